# nlme reference values for sp.lmm's residual correlation (corAR1, corCAR1) and varIdent.
# Run from the repository root:  Rscript tests/reference/nlme/make_refs.R [SHARED_DATA_DIR]
# Writes tests/reference/nlme/nlme_refs.json and the simulated case data under data/.
suppressPackageStartupMessages({
  library(nlme)
  library(jsonlite)
  library(numDeriv)
})
args <- commandArgs(trailingOnly = TRUE)
shared <- if (length(args)) args[1] else "../shared/data"
out_dir <- "tests/reference/nlme"
ctrl <- lmeControl(maxIter = 500, msMaxIter = 500, niterEM = 100, tolerance = 1e-10,
                   msTol = 1e-12, returnObject = TRUE)

# ---- case data -----------------------------------------------------------------------
sleep <- read.csv(file.path(shared, "sleepstudy/sleepstudy.csv"))
sleep$Subject <- factor(sleep$Subject)

aces <- read.csv(file.path(shared, "aces_daily/aces_daily.csv"))
aces$day <- as.numeric(as.Date(aces$SurveyDay))
aces$time <- aces$day - ave(aces$day, aces$UserID, FUN = min) + aces$SurveyStartTimec11
aces <- aces[complete.cases(aces[, c("NegAff", "STRESS", "time", "UserID")]), ]
aces <- aces[order(aces$UserID, aces$time), ]

# simulated diary: 60 persons x 28 days, AR(1) residuals (phi = 0.5) on the calendar,
# random intercept and slope of sleep, then 20% of the days deleted at random
set.seed(20261201)
np <- 60; nd <- 28
sim <- expand.grid(day = 1:nd, id = 1:np)
sim <- sim[, c("id", "day")]
b0 <- rnorm(np, 0, 1.0); b1 <- rnorm(np, 0, 0.3)
e <- unlist(lapply(1:np, function(i) as.numeric(arima.sim(list(ar = 0.5), nd, sd = sqrt(1 - 0.25)))))
sim$sleep <- round(rnorm(np * nd), 6)
sim$weekend <- ifelse(sim$day %% 7 %in% c(0, 6), "yes", "no")
sd_w <- ifelse(sim$weekend == "yes", 1.6, 1.0)
sim$pain <- round(3 + b0[sim$id] + (-0.4 + b1[sim$id]) * sim$sleep + sd_w * e, 6)
sim <- sim[sort(sample(nrow(sim), round(0.8 * nrow(sim)))), ]
write.csv(sim, file.path(out_dir, "data/diary_missing.csv"), row.names = FALSE)
sim <- read.csv(file.path(out_dir, "data/diary_missing.csv"))

# ---- helpers --------------------------------------------------------------------------
num <- function(x) unname(as.numeric(x))
ref <- function(name, fit, source, py, rcall, extra = list()) {
  fe <- fixef(fit)
  se <- sqrt(diag(vcov(fit)))
  G <- pdMatrix(fit$modelStruct$reStruct)[[1]] * fit$sigma^2
  cs <- fit$modelStruct$corStruct
  vs <- fit$modelStruct$varStruct
  out <- list(
    name = name, source = source, python = py, r_call = rcall,
    method = fit$method, nobs = nobs(fit), ngroups = num(fit$dims$ngrps[1]),
    logLik = num(logLik(fit)), AIC = num(AIC(fit)), BIC = num(BIC(fit)),
    df_logLik = num(attr(logLik(fit), "df")),
    sigma = fit$sigma,
    fixef = as.list(fe), se = as.list(se),
    re_sd = as.list(setNames(sqrt(diag(G)), rownames(G))),
    phi = if (is.null(cs)) NULL else num(coef(cs, unconstrained = FALSE)),
    varident = if (is.null(vs)) NULL else as.list(coef(vs, unconstrained = FALSE, allCoef = TRUE)),
    apVar_ok = !is.character(fit$apVar),
    containment_df = as.list(summary(fit)$tTable[, "DF"])
  )
  if (nrow(G) > 1) out$re_corr <- num(cov2cor(G)[2, 1])
  c(out, extra)
}

# Satterthwaite df by lmerTest's formula (Kuznetsova et al. 2017, eq. for contest1D),
# extended to the residual parameters, computed independently at nlme's optimum: the REML
# deviance of varpar = (theta, sigma, phi, log delta) from the dense per-person marginal
# covariance, its Hessian by numDeriv, and the Jacobian of vcov(beta) by numDeriv.
satt_df <- function(fit, data, y, X, Z, id, time, stratum) {
  theta_L <- function(th, q) { L <- matrix(0, q, q); L[lower.tri(L, diag = TRUE)] <- th; L }
  q <- ncol(Z)
  G <- pdMatrix(fit$modelStruct$reStruct)[[1]]  # relative to sigma^2
  th0 <- t(chol(G))[lower.tri(G, diag = TRUE)]
  cs <- fit$modelStruct$corStruct
  phi0 <- if (is.null(cs)) NULL else num(coef(cs, unconstrained = FALSE))
  vs <- fit$modelStruct$varStruct
  ld0 <- if (is.null(vs)) NULL else log(num(coef(vs, unconstrained = FALSE, allCoef = TRUE))[-1])
  lev <- if (is.null(vs)) NULL else names(coef(vs, unconstrained = FALSE, allCoef = TRUE))
  vp0 <- c(th0, fit$sigma, phi0, ld0)
  nth <- length(th0)
  blocks <- split(seq_along(y), id)
  Vinv_parts <- function(vp) {
    L <- theta_L(vp[1:nth], q); s2 <- vp[nth + 1]^2
    phi <- if (is.null(phi0)) 0 else vp[nth + 2]
    dl <- if (is.null(ld0)) numeric(0) else vp[(nth + 2 + !is.null(phi0)):length(vp)]
    XVX <- 0; XVy <- 0; yVy <- 0; ldV <- 0
    for (b in blocks) {
      Zj <- Z[b, , drop = FALSE]; tj <- time[b]
      R <- if (is.null(phi0)) diag(length(b)) else phi^abs(outer(tj, tj, "-"))
      dj <- if (is.null(ld0)) rep(1, length(b)) else exp(c(0, dl))[match(stratum[b], lev)]
      V <- s2 * (Zj %*% L %*% t(L) %*% t(Zj) + (dj %o% dj) * R)
      U <- chol(V)
      Xj <- backsolve(U, X[b, , drop = FALSE], transpose = TRUE)
      yj <- backsolve(U, y[b], transpose = TRUE)
      XVX <- XVX + crossprod(Xj); XVy <- XVy + crossprod(Xj, yj); yVy <- yVy + sum(yj^2)
      ldV <- ldV + 2 * sum(log(diag(U)))
    }
    list(XVX = XVX, XVy = XVy, yVy = yVy, ldV = ldV)
  }
  dev <- function(vp) {
    w <- Vinv_parts(vp)
    beta <- solve(w$XVX, w$XVy)
    rss <- w$yVy - sum(w$XVy * beta)
    w$ldV + as.numeric(determinant(w$XVX)$modulus) + rss + (length(y) - ncol(X)) * log(2 * pi)
  }
  vcovb <- function(vp) as.numeric(solve(Vinv_parts(vp)$XVX))
  H <- numDeriv::hessian(dev, vp0)
  J <- numDeriv::jacobian(vcovb, vp0)
  A <- 2 * solve(H)
  Cb <- matrix(vcovb(vp0), ncol(X))
  p <- ncol(X)
  df <- sapply(seq_len(p), function(i) {
    g <- J[(i - 1) * p + i, ]
    2 * Cb[i, i]^2 / as.numeric(t(g) %*% A %*% g)
  })
  list(df = setNames(as.list(df), colnames(X)), se = setNames(as.list(sqrt(diag(Cb))), colnames(X)),
       deviance = dev(vp0), varpar = vp0)
}
cases <- list()

# 1-2 sleepstudy, random intercept, corAR1(~ Days | Subject), REML and ML (with a random
# slope as well nlme stops at a singular fit with correlation 1: no clean optimum to compare)
for (m in c("REML", "ML")) {
  f <- lme(Reaction ~ Days, random = ~ 1 | Subject, data = sleep, method = m,
           correlation = corAR1(form = ~ Days | Subject), control = ctrl)
  extra <- list()
  if (m == "REML") extra$satterthwaite <- satt_df(
    f, sleep, sleep$Reaction, cbind("(Intercept)" = 1, Days = sleep$Days),
    matrix(1, nrow(sleep), 1), sleep$Subject, sleep$Days, NULL)
  cases[[length(cases) + 1]] <- ref(
    paste0("sleepstudy_ar1_", tolower(m)), f, "shared:sleepstudy/sleepstudy.csv",
    list(formula = "Reaction ~ Days + (1 | Subject)", correlation = "ar1", time = "Days",
         reml = m == "REML"),
    sprintf("lme(Reaction ~ Days, random = ~ 1 | Subject, method = '%s', correlation = corAR1(form = ~ Days | Subject))", m),
    extra)
}

# 3 aces_daily, corCAR1 on continuous time (days since the person's first day + time of day)
f <- lme(NegAff ~ STRESS, random = ~ 1 | UserID, data = aces, method = "REML",
         correlation = corCAR1(form = ~ time | UserID), control = ctrl)
cases[[length(cases) + 1]] <- ref(
  "aces_car1_reml", f, "shared:aces_daily/aces_daily.csv",
  list(formula = "NegAff ~ STRESS + (1 | UserID)", correlation = "car1", time = "time", reml = TRUE),
  "lme(NegAff ~ STRESS, random = ~ 1 | UserID, correlation = corCAR1(form = ~ time | UserID))",
  list(preprocess = "aces_time: day = days since 1970 of SurveyDay; time = day - min(day) within UserID + SurveyStartTimec11; rows complete in NegAff, STRESS, time"))

# 4 simulated diary with 20% missing days: AR1 on the calendar day (gaps)
f <- lme(pain ~ sleep, random = ~ sleep | id, data = sim, method = "REML",
         correlation = corAR1(form = ~ day | id), control = ctrl)
f_row <- lme(pain ~ sleep, random = ~ sleep | id, data = sim, method = "REML",
             correlation = corAR1(form = ~ 1 | id), control = ctrl)
cases[[length(cases) + 1]] <- ref(
  "diary_missing_ar1_reml", f, "case:data/diary_missing.csv",
  list(formula = "pain ~ sleep + (sleep | id)", correlation = "ar1", time = "day", reml = TRUE),
  "lme(pain ~ sleep, random = ~ sleep | id, correlation = corAR1(form = ~ day | id))",
  list(row_order_logLik = num(logLik(f_row)),
       row_order_phi = num(coef(f_row$modelStruct$corStruct, unconstrained = FALSE))))

# 5 varIdent by weekend, ML
f <- lme(pain ~ sleep, random = ~ 1 | id, data = sim, method = "ML",
         weights = varIdent(form = ~ 1 | weekend), control = ctrl)
cases[[length(cases) + 1]] <- ref(
  "diary_varident_ml", f, "case:data/diary_missing.csv",
  list(formula = "pain ~ sleep + (1 | id)", weights = "group:weekend", reml = FALSE),
  "lme(pain ~ sleep, random = ~ 1 | id, method = 'ML', weights = varIdent(form = ~ 1 | weekend))")

# 6 varIdent and corAR1 together, REML
f <- lme(pain ~ sleep, random = ~ 1 | id, data = sim, method = "REML",
         weights = varIdent(form = ~ 1 | weekend),
         correlation = corAR1(form = ~ day | id), control = ctrl)
cases[[length(cases) + 1]] <- ref(
  "diary_varident_ar1_reml", f, "case:data/diary_missing.csv",
  list(formula = "pain ~ sleep + (1 | id)", weights = "group:weekend", correlation = "ar1",
       time = "day", reml = TRUE),
  "lme(pain ~ sleep, random = ~ 1 | id, weights = varIdent(form = ~ 1 | weekend), correlation = corAR1(form = ~ day | id))",
  list(satterthwaite = satt_df(f, sim, sim$pain, cbind("(Intercept)" = 1, sleep = sim$sleep),
                               matrix(1, nrow(sim), 1), sim$id, sim$day, sim$weekend)))

# 8 negative AR(1) and a three-level varIdent, ML (simulated, written to data/)
set.seed(20261202)
np2 <- 40; nd2 <- 15
neg <- expand.grid(day = 1:nd2, id = 1:np2)[, c("id", "day")]
e2 <- unlist(lapply(1:np2, function(i) as.numeric(arima.sim(list(ar = -0.4), nd2, sd = sqrt(1 - 0.16)))))
neg$phase <- c("a", "b", "c")[(neg$day %% 3) + 1]
sd3 <- c(a = 1, b = 0.6, c = 1.8)[neg$phase]
neg$x <- round(rnorm(nrow(neg)), 6)
neg$y <- round(1 + rnorm(np2, 0, 0.8)[neg$id] + 0.3 * neg$x + sd3 * e2, 6)
neg <- neg[sort(sample(nrow(neg), round(0.85 * nrow(neg)))), ]
write.csv(neg, file.path(out_dir, "data/negative_ar1.csv"), row.names = FALSE)
neg <- read.csv(file.path(out_dir, "data/negative_ar1.csv"))
f <- lme(y ~ x, random = ~ 1 | id, data = neg, method = "ML",
         correlation = corAR1(form = ~ day | id), weights = varIdent(form = ~ 1 | phase),
         control = ctrl)
cases[[length(cases) + 1]] <- ref(
  "negative_ar1_varident3_ml", f, "case:data/negative_ar1.csv",
  list(formula = "y ~ x + (1 | id)", correlation = "ar1", time = "day",
       weights = "group:phase", reml = FALSE),
  "lme(y ~ x, random = ~ 1 | id, method = 'ML', correlation = corAR1(form = ~ day | id), weights = varIdent(form = ~ 1 | phase))")

# 7 the same model without correlation (the likelihood-ratio comparison of sp.anova)
f0 <- lme(pain ~ sleep, random = ~ sleep | id, data = sim, method = "REML", control = ctrl)
f1 <- update(f0, correlation = corAR1(form = ~ day | id))
a <- anova(f0, f1)
cases[[length(cases) + 1]] <- ref(
  "diary_noar1_reml", f0, "case:data/diary_missing.csv",
  list(formula = "pain ~ sleep + (sleep | id)", reml = TRUE),
  "lme(pain ~ sleep, random = ~ sleep | id)",
  list(anova_vs_ar1 = list(L.Ratio = num(a$L.Ratio[2]), p = num(a[["p-value"]][2]))))

out <- list(
  generated = format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z"),
  R = R.version.string, nlme = as.character(packageVersion("nlme")),
  control = "lmeControl(maxIter = 500, msMaxIter = 500, niterEM = 100, tolerance = 1e-10, msTol = 1e-12)",
  cases = cases)
write_json(out, file.path(out_dir, "nlme_refs.json"), auto_unbox = TRUE, digits = NA,
           pretty = TRUE, null = "null")
cat("wrote", length(cases), "cases\n")
