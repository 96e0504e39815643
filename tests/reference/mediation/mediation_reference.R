# Reference values for sp.mediation: the stacked 1-1-1 lagged within-person mediation model of
# Bauer, Preacher & Gil (2006, Psychological Methods 11:142) fitted with nlme::lme, one
# residual variance per equation (varIdent), random intercepts, a and b slopes, correlated.
# Built here from the raw data independently of sleeppain.
# Run from the repository root:  Rscript tests/reference/mediation/mediation_reference.R
# Reads tests/reference/mediation/sim_med.csv (written by
# tests/reference/mlvar/make_multivariate_sim.py) and, when present, ../shared/data/paindiary.
suppressPackageStartupMessages({library(nlme); library(jsonlite)})

# d: one row per id-day with columns x, m, y; xs: x on row r, m and y on the next calendar
# day (`nxt`); person means over all of each person's observations of the variable.
stack_bpg <- function(x, m, y, id, nxt) {
  pm <- function(v) ave(v, id, FUN = function(z) mean(z, na.rm = TRUE))
  gm <- function(v) mean(tapply(v, id, function(z) mean(z, na.rm = TRUE)), na.rm = TRUE)
  px <- pm(x); pmm <- pm(m)
  w <- data.frame(id = id, x_w = x - px, x_b = px - gm(x), m1 = m[nxt], y1 = y[nxt],
                  m_w = m[nxt] - pmm[nxt], m_b = pmm - gm(m))
  w <- w[complete.cases(w[, c("x_w", "m1", "y1", "m_w")]), ]
  n <- nrow(w)
  s <- rbind(
    data.frame(id = w$id, eq = "m", z = w$m1, Sm = 1, Sm_x = w$x_w, Sm_xb = w$x_b,
               Sy = 0, Sy_m = 0, Sy_x = 0, Sy_mb = 0, Sy_xb = 0),
    data.frame(id = w$id, eq = "y", z = w$y1, Sm = 0, Sm_x = 0, Sm_xb = 0,
               Sy = 1, Sy_m = w$m_w, Sy_x = w$x_w, Sy_mb = w$m_b, Sy_xb = w$x_b))
  s$eq <- factor(s$eq, levels = c("m", "y"))
  list(stacked = s, n_pairs = n)
}

fit_bpg <- function(s, method) {
  fit <- lme(z ~ 0 + Sm + Sm_x + Sm_xb + Sy + Sy_m + Sy_x + Sy_mb + Sy_xb,
             random = ~ 0 + Sm + Sm_x + Sy + Sy_m | id, data = s,
             weights = varIdent(form = ~ 1 | eq), method = method,
             control = lmeControl(maxIter = 500, msMaxIter = 500, niterEM = 100,
                                  msMaxEval = 1000, returnObject = TRUE))
  G <- getVarCov(fit)
  ok_ap <- is.matrix(fit$apVar)
  pars <- if (ok_ap) attr(fit$apVar, "Pars") else NULL
  # delta method for cov(a_j, b_j) = sd(a) sd(b) cor(a, b) on nlme's natural scale of
  # apVar: the 4 log sds (order Sm, Sm_x, Sy, Sy_m), then log((1 + r) / (1 - r)) of the
  # correlations (1,2), (1,3), (1,4), (2,3), (2,4), (3,4); then varStruct and log sigma.
  # check_cov_from_pars (computed from the parameters) must equal cov_ab from getVarCov.
  f <- function(p) {
    p <- unlist(p)
    sa <- exp(p[[2]]); sb <- exp(p[[4]]); z <- p[[9]]; r <- (exp(z) - 1) / (exp(z) + 1)
    sa * sb * r
  }
  g <- if (!ok_ap) NULL else sapply(seq_along(pars), function(i) {
    h <- 1e-5; pp <- pars; pm <- pars; pp[i] <- pp[i] + h; pm[i] <- pm[i] - h
    (f(as.list(pp)) - f(as.list(pm))) / (2 * h)
  })
  se_cov <- if (ok_ap) sqrt(drop(t(g) %*% fit$apVar %*% g)) else NA_real_
  delta <- coef(fit$modelStruct$varStruct, unconstrained = FALSE, allCoef = TRUE)
  # Second, independent SE of cov(a_j, b_j): the (REML or ML) log-likelihood of the stacked
  # model written out here per person (dense V_j = Z_j G Z_j' + R_j), its Hessian by
  # numDeriv (Richardson) on nlme's natural scale at nlme's estimates, and the delta method.
  X <- as.matrix(s[, c("Sm", "Sm_x", "Sm_xb", "Sy", "Sy_m", "Sy_x", "Sy_mb", "Sy_xb")])
  Z <- as.matrix(s[, c("Sm", "Sm_x", "Sy", "Sy_m")])
  isy <- s$eq == "y"
  groups <- split(seq_len(nrow(s)), s$id)
  ll <- function(p) {
    sd <- exp(p[1:4]); R <- diag(4); k <- 5
    for (i in 1:3) for (j in (i + 1):4) { R[i, j] <- R[j, i] <- tanh(p[k] / 2); k <- k + 1 }
    G <- outer(sd, sd) * R; dl <- exp(p[11]); sig <- exp(p[12])
    XVX <- 0; XVy <- 0; ld <- 0; parts <- vector("list", length(groups))
    for (g in seq_along(groups)) {
      r <- groups[[g]]
      V <- Z[r, , drop = FALSE] %*% G %*% t(Z[r, , drop = FALSE]) +
        diag(sig^2 * ifelse(isy[r], dl^2, 1), length(r))
      C <- chol(V); ld <- ld + 2 * sum(log(diag(C)))
      Xt <- backsolve(C, X[r, , drop = FALSE], transpose = TRUE)
      yt <- backsolve(C, s$z[r], transpose = TRUE)
      XVX <- XVX + crossprod(Xt); XVy <- XVy + crossprod(Xt, yt); parts[[g]] <- list(Xt, yt)
    }
    beta <- solve(XVX, XVy)
    q <- sum(sapply(parts, function(u) sum((u[[2]] - u[[1]] %*% beta)^2)))
    out <- -0.5 * (ld + q)
    if (method == "REML") out <- out - 0.5 * as.numeric(determinant(XVX)$modulus)
    out
  }
  Gm <- as.matrix(G); sdv <- sqrt(diag(Gm)); Rm <- Gm / outer(sdv, sdv)
  p0 <- c(log(sdv), unlist(lapply(1:3, function(i) sapply((i + 1):4, function(j)
    log((1 + Rm[i, j]) / (1 - Rm[i, j]))))), log(delta[["y"]]), log(fit$sigma))
  Hn <- numDeriv::hessian(ll, p0)
  Vn <- solve(-Hn)
  cf <- function(p) exp(p[2]) * exp(p[4]) * tanh(p[9] / 2)
  gn <- numDeriv::grad(cf, p0)
  se_cov_numderiv <- sqrt(drop(t(gn) %*% Vn %*% gn))
  list(method = method, fixef = as.list(fixef(fit)),
       se = as.list(sqrt(diag(fit$varFix))),
       G = matrix(as.numeric(G), nrow(G)), G_names = colnames(G), sigma = fit$sigma,
       delta_y = unname(delta[["y"]]), loglik = as.numeric(logLik(fit)),
       cov_ab = as.numeric(G["Sm_x", "Sy_m"]), se_cov_ab_apvar = se_cov,
       se_cov_ab_numderiv = se_cov_numderiv, check_cov_from_p0 = cf(p0),
       check_cov_from_pars = if (ok_ap) f(as.list(pars)) else NA_real_,
       apvar_message = if (ok_ap) "" else as.character(fit$apVar), nobs = nrow(s))
}

cases <- list()
d <- read.csv("tests/reference/mediation/sim_med.csv")
nxt <- match(paste(d$id, d$day + 1), paste(d$id, d$day))
st <- stack_bpg(d$x, d$m, d$y, d$id, nxt)
for (meth in c("REML", "ML")) {
  cases[[paste0("sim_", meth)]] <- c(fit_bpg(st$stacked, meth), list(n_pairs = st$n_pairs))
}

pd_path <- "../shared/data/paindiary/PainDiary.csv"
if (file.exists(pd_path)) {
  p <- read.csv(pd_path)
  p <- p[order(p$Person, p$Day), ]
  # SleepQual reported on day d describes night d - 1 (morning-report convention); its
  # next day is day d itself, so x, m and y are taken from the same report row here.
  # Person means of x are over all sleep reports.
  st <- stack_bpg(p$SleepQual, p$PosAffect, p$Pain, p$Person, seq_len(nrow(p)))
  for (meth in c("REML", "ML")) {
    cases[[paste0("paindiary_", meth)]] <- c(fit_bpg(st$stacked, meth), list(n_pairs = st$n_pairs))
  }
}

info <- list(R = R.version.string, nlme = as.character(packageVersion("nlme")), cases = cases)
writeLines(toJSON(info, auto_unbox = TRUE, digits = NA, matrix = "rowmajor", na = "null"),
           "tests/reference/mediation/mediation_reference.json")
cat("wrote tests/reference/mediation/mediation_reference.json\n")
