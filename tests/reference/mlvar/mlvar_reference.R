# Reference values for sp.network: lme4 fits of mlVAR's lmer estimator (Epskamp, Waldorp,
# Mottus & Borsboom 2018, Multivariate Behavioral Research 53:453), built here from the raw
# data independently of sleeppain, plus an N-of-1 VAR by OLS with HC3 standard errors.
# Run from the repository root:  Rscript tests/reference/mlvar/mlvar_reference.R
# Reads tests/reference/mlvar/sim_var.csv (written by make_multivariate_sim.py) and, when present,
# ../shared/data/aces_daily and ../shared/data/esm_n1. Writes mlvar_reference.json.
suppressPackageStartupMessages({library(lme4); library(jsonlite)})

# calendar lag-1 predictors centred at the person mean, person means centred at the grand
# mean of person means (one row per id-day; `day` an integer calendar index)
prep <- function(d, vars) {
  key <- paste(d$id, d$day)
  prev <- match(paste(d$id, d$day - 1), key)
  for (v in vars) {
    pm <- ave(d[[v]], d$id, FUN = function(z) mean(z, na.rm = TRUE))
    pms <- tapply(d[[v]], d$id, function(z) mean(z, na.rm = TRUE))
    d[[paste0("L_", v)]] <- d[[v]][prev] - pm
    d[[paste0("B_", v)]] <- pm - mean(pms, na.rm = TRUE)
  }
  d
}

wi2net <- function(P) { R <- -cov2cor(P); diag(R) <- 0; R }
forcePositive <- function(x) {
  x <- (x + t(x)) / 2
  ev <- eigen(x)$values
  if (any(ev < 0)) x - (diag(nrow(x)) * min(ev) - 0.001) else x
}

fit_network <- function(d, vars, random) {
  d <- prep(d, vars)
  L <- paste0("L_", vars)
  out <- list(); fits <- list()
  for (v in vars) {
    fixed <- paste(c(L, paste0("B_", setdiff(vars, v))), collapse = " + ")
    re <- switch(random,
      orthogonal = paste0("(1 + ", paste(L, collapse = " + "), " || id)"),
      correlated = paste0("(1 + ", paste(L, collapse = " + "), " | id)"),
      fixed = "(1 | id)")
    f <- as.formula(paste(v, "~", fixed, "+", re))
    m <- suppressWarnings(suppressMessages(lmer(f, data = d, REML = FALSE,
      control = lmerControl(optimizer = "bobyqa"))))
    fits[[v]] <- m
    out[[v]] <- list(fixef = as.list(fixef(m)), se = as.list(sqrt(diag(as.matrix(vcov(m))))),
      theta = unname(getME(m, "theta")), sigma = sigma(m), loglik = as.numeric(logLik(m)),
      deviance = deviance(m), nobs = nobs(m),
      intercept_sd = attr(VarCorr(m)$id, "stddev")[[1]])
  }
  k <- length(vars)
  # between network (mlVAR): D = diag(1 / SD(intercept)^2), K = D (I - Gamma)
  G <- matrix(0, k, k)
  for (i in seq_len(k)) G[i, -i] <- fixef(fits[[i]])[paste0("B_", vars[-i])]
  sds <- sapply(vars, function(v) out[[v]]$intercept_sd)
  K <- forcePositive(diag(1 / sds^2) %*% (diag(k) - G))
  # contemporaneous: partial correlations of the conditional residuals (rows with all)
  res <- matrix(NA, nrow(d), k)
  for (i in seq_len(k)) {
    r <- residuals(fits[[i]])
    res[as.integer(names(r)), i] <- r
  }
  res <- res[complete.cases(res), , drop = FALSE]
  S <- crossprod(scale(res, scale = FALSE)) / nrow(res)
  # person-specific temporal networks of the first three persons (fixed + conditional modes)
  ids <- sort(unique(d$id))[1:3]
  person <- list()
  if (random != "fixed") {
    for (p in ids) {
      Bp <- matrix(0, k, k)
      for (i in seq_len(k)) {
        re <- ranef(fits[[i]])$id
        row <- re[as.character(p), , drop = FALSE]
        Bp[i, ] <- fixef(fits[[i]])[L] + unlist(row[1, L])
      }
      person[[as.character(p)]] <- Bp
    }
  }
  list(vars = vars, random = random, models = out, between = wi2net(K),
       contemporaneous = wi2net(solve(S)), n_complete_residual_rows = nrow(res),
       person = person)
}

cases <- list()
sim <- read.csv("tests/reference/mlvar/sim_var.csv")
for (r in c("orthogonal", "correlated", "fixed")) {
  cases[[paste0("sim_", r)]] <- fit_network(sim, c("v1", "v2", "v3", "v4"), r)
}

aces_path <- "../shared/data/aces_daily/aces_daily.csv"
if (file.exists(aces_path)) {
  a <- read.csv(aces_path)
  a$day <- as.integer(as.Date(a$SurveyDay))
  a$id <- a$UserID
  mean_na <- function(z) { z <- z[!is.na(z)]; if (length(z)) mean(z) else NA_real_ }
  vars_day <- c("STRESS", "PosAff", "NegAff")
  dd <- aggregate(a[, vars_day], by = list(id = a$id, day = a$day), FUN = mean_na)
  sl <- aggregate(list(SOLs = a$SOLs), by = list(id = a$id, day = a$day), FUN = mean_na)
  sl <- sl[!is.na(sl$SOLs), ]
  sl$day <- sl$day - 1L  # a sleep report describes the previous night: night index d - 1
  d <- merge(dd, sl, by = c("id", "day"), all = TRUE)
  d <- d[order(d$id, d$day), ]
  rownames(d) <- NULL
  vars <- c("STRESS", "PosAff", "NegAff", "SOLs")
  for (r in c("orthogonal", "fixed")) cases[[paste0("aces_", r)]] <- fit_network(d, vars, r)
}

esm_path <- "../shared/data/esm_n1/csd_emaph_ESMdata_recoded.csv"
if (file.exists(esm_path)) {
  e <- read.csv(esm_path)
  e$day <- as.integer(as.Date(e$date))
  mean_na <- function(z) { z <- z[!is.na(z)]; if (length(z)) mean(z) else NA_real_ }
  vars_day <- c("phy_pain", "mood_down", "phy_tired")
  dd <- aggregate(e[, vars_day], by = list(day = e$day), FUN = mean_na)
  sl <- aggregate(list(mor_qualsleep = e$mor_qualsleep), by = list(day = e$day), FUN = mean_na)
  sl <- sl[!is.na(sl$mor_qualsleep), ]
  sl$day <- sl$day - 1L
  d <- merge(dd, sl, by = "day", all = TRUE)
  d <- d[order(d$day), ]
  vars <- c("phy_pain", "mood_down", "phy_tired", "mor_qualsleep")
  prev <- match(d$day - 1, d$day)
  lagged <- as.matrix(d[prev, vars]); colnames(lagged) <- paste0("lag_", vars)
  out <- list(); res <- list()
  for (v in vars) {
    ok <- complete.cases(cbind(d[[v]], lagged))
    X <- cbind(1, lagged[ok, ]); y <- d[[v]][ok]
    m <- lm.fit(X, y)
    XtXi <- solve(crossprod(X))
    h <- rowSums((X %*% XtXi) * X)
    meat <- crossprod(X * (m$residuals / (1 - h)))
    V <- XtXi %*% meat %*% XtXi
    out[[v]] <- list(coef = unname(m$coefficients), se_hc3 = sqrt(diag(V)),
                     se_ols = sqrt(diag(XtXi) * sum(m$residuals^2) / (length(y) - ncol(X))),
                     nobs = length(y))
    r <- rep(NA_real_, nrow(d)); r[ok] <- m$residuals; res[[v]] <- r
  }
  R <- do.call(cbind, res); R <- R[complete.cases(R), ]
  S <- crossprod(scale(R, scale = FALSE)) / nrow(R)
  cases[["esm_n1"]] <- list(vars = vars, models = out, contemporaneous = wi2net(solve(S)),
                            n_complete_residual_rows = nrow(R))
}

info <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
             Matrix = as.character(packageVersion("Matrix")), cases = cases)
writeLines(toJSON(info, auto_unbox = TRUE, digits = NA, matrix = "rowmajor", null = "null",
                  na = "null"), "tests/reference/mlvar/mlvar_reference.json")
cat("wrote tests/reference/mlvar/mlvar_reference.json\n")
