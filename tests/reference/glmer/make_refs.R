#!/usr/bin/env Rscript
# Reference values from lme4::glmer / glmer.nb and ordinal::clmm for sp.glmm and sp.clmm.
#
# Usage: Rscript tests/reference/glmer/make_refs.R [SHARED_DATA_DIR]
# SHARED_DATA_DIR defaults to <repo root>/../shared/data (aces_daily). The simulated case
# data are generated here with set.seed and written to tests/reference/glmer/data/*.csv.
# Writes tests/reference/glmer/glmer_refs.json next to this script.
# Needs R >= 4.1 with lme4, ordinal, jsonlite (Debian r-cran-lme4, r-cran-ordinal).

suppressPackageStartupMessages({
  library(lme4)
  library(ordinal)
  library(jsonlite)
})

script_path <- function() {
  arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  normalizePath(sub("^--file=", "", arg[1]))
}
HERE <- dirname(script_path())
REPO_ROOT <- normalizePath(file.path(HERE, "..", "..", ".."))
args <- commandArgs(trailingOnly = TRUE)
SHARED <- if (length(args) >= 1) args[1] else file.path(REPO_ROOT, "..", "shared", "data")
DATA <- file.path(HERE, "data")
dir.create(DATA, showWarnings = FALSE)

CTRL <- glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5))
# lme4's default PIRLS tolerance (tolPwrss = 1e-7) leaves the Laplace devfun inexact by up
# to ~1e-3 (cbpp: 184.05313 vs 184.05257 at the same parameters), which also perturbs the
# finite-difference Hessian behind the standard errors. Every case is therefore fitted
# twice: with the defaults (what users get) and with a tight PIRLS tolerance ("tight").
CTRL_TIGHT <- glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5),
                           tolPwrss = 1e-13)

# ---------------------------------------------------------------------------------------
# case data
set.seed(20261201)
# binary flare days: 120 persons x 21 days, random intercept and slope of poor_night
np <- 120; nd <- 21
id <- rep(seq_len(np), each = nd)
poor <- rbinom(np * nd, 1, plogis(rnorm(np, 0, 0.8))[id])
b0 <- rnorm(np, 0, 1.0); b1 <- rnorm(np, 0, 0.6)
age <- round(rnorm(np, 45, 10))[id]
eta <- -1.6 + 0.7 * poor + 0.02 * (age - 45) + b0[id] + b1[id] * poor
flare <- data.frame(id = id, day = rep(seq_len(nd), np), poor_night = poor,
                    age_c = (age - 45) / 10, flare = rbinom(np * nd, 1, plogis(eta)))
write.csv(flare, file.path(DATA, "flare.csv"), row.names = FALSE)

# awakenings with overdispersion (negative binomial), 80 persons x 14 nights
np <- 80; nd <- 14
id <- rep(seq_len(np), each = nd)
stress <- round(rnorm(np * nd, 4, 2), 1)
eta <- 0.2 + 0.12 * (stress - 4) + rnorm(np, 0, 0.5)[id]
awake <- data.frame(id = id, stress_c = stress - 4,
                    wakings = rnbinom(np * nd, mu = exp(eta), size = 2.5))
write.csv(awake, file.path(DATA, "awakenings.csv"), row.names = FALSE)

aces <- read.csv(file.path(SHARED, "aces_daily", "aces_daily.csv"))
aces <- aces[!is.na(aces$WASONs) & !is.na(aces$STRESS), ]

# ---------------------------------------------------------------------------------------
out <- list(
  meta = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
              ordinal = as.character(packageVersion("ordinal")),
              control = 'glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5))'),
  cases = list()
)

glmer_case <- function(name, formula, data, family, nAGQ = 1, source, fixed_pars) {
  fit <- glmer(formula, data = data, family = family, nAGQ = nAGQ, control = CTRL)
  # tolPwrss = 1e-13 can fail ("PIRLS step-halvings failed") on larger data: then 1e-10
  tight_ctrl <- CTRL_TIGHT
  tight <- tryCatch(glmer(formula, data = data, family = family, nAGQ = nAGQ,
                          control = CTRL_TIGHT), error = function(e) NULL)
  if (is.null(tight)) {
    tight_ctrl <- glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5),
                               tolPwrss = 1e-10)
    tight <- glmer(formula, data = data, family = family, nAGQ = nAGQ, control = tight_ctrl)
  }
  dd <- glmer(formula, data = data, family = family, nAGQ = nAGQ, control = tight_ctrl,
              devFunOnly = TRUE)
  th <- getME(fit, "theta"); be <- fixef(fit)
  opt_pars <- c(th, be)
  cc <- coef(summary(fit))
  cct <- coef(summary(tight))
  vc <- as.data.frame(VarCorr(fit))
  list(
    name = name, kind = "glmer", formula = deparse(formula, width.cutoff = 500),
    family = family$family, link = family$link, nAGQ = nAGQ, source = source,
    nobs = nobs(fit), theta = unname(th), fixef = as.list(be),
    se = as.list(cc[, "Std. Error"]), z = as.list(cc[, "z value"]),
    logLik = as.numeric(logLik(fit)), AIC = AIC(fit), BIC = BIC(fit),
    deviance = deviance(fit), minus2ll = -2 * as.numeric(logLik(fit)),
    optval = fit@optinfo$val,
    devfun_at_opt = dd(opt_pars),
    tight = list(tolPwrss = tight_ctrl$tolPwrss, theta = unname(getME(tight, "theta")), fixef = as.list(fixef(tight)),
                 se = as.list(cct[, "Std. Error"]), minus2ll = -2 * as.numeric(logLik(tight)),
                 converged = length(tight@optinfo$conv$lme4$messages) == 0),
    fixed_pars = fixed_pars, devfun_at_fixed = dd(fixed_pars),
    # the deviance-residual sum lme4 uses for nAGQ > 1 differs from -2 log L by a constant
    minus2ll_saturated = family$aic(fit@resp$y, fit@resp$n, fit@resp$y, fit@resp$weights, 0),
    converged = length(fit@optinfo$conv$lme4$messages) == 0,
    messages = as.list(fit@optinfo$conv$lme4$messages),
    varcor = list(grp = vc$grp, var1 = vc$var1, var2 = vc$var2, vcov = vc$vcov, sdcor = vc$sdcor),
    ranef_head = head(ranef(fit)[[1]][, 1], 5),
    # conditional modes and variances (first random effect, first 5 levels) of the tight fit
    ranef_tight_head = head(ranef(tight)[[1]][, 1], 5),
    condvar_tight_head = head(attr(ranef(tight, condVar = TRUE)[[1]], "postVar")[1, 1, ], 5),
    fitted_head = head(unname(fitted(fit)), 5),
    eta_head = head(unname(predict(fit, type = "link")), 5)
  )
}

data(cbpp, package = "lme4")
cbpp_df <- data.frame(herd = as.integer(as.character(cbpp$herd)), incidence = cbpp$incidence,
                      size = cbpp$size, period = as.integer(as.character(cbpp$period)))
write.csv(cbpp_df, file.path(DATA, "cbpp.csv"), row.names = FALSE)
fcb <- cbind(incidence, size - incidence) ~ factor(period) + (1 | herd)
out$cases$cbpp_laplace <- glmer_case("cbpp_laplace", fcb, cbpp_df, binomial(), 1,
  "lme4::cbpp", c(0.8, -1.2, -1.0, -1.1, -1.5))
out$cases$cbpp_agq25 <- glmer_case("cbpp_agq25", fcb, cbpp_df, binomial(), 25,
  "lme4::cbpp", c(0.8, -1.2, -1.0, -1.1, -1.5))
out$cases$cbpp_agq25$devfun_at_fixed_laplace_pars <- NULL

out$cases$aces_poisson <- glmer_case("aces_poisson", WASONs ~ STRESS + Female + (1 | UserID),
  aces, poisson(), 1, "shared:aces_daily/aces_daily.csv (rows with WASONs and STRESS)",
  c(0.6, 0.1, 0.05, 0.1))
out$cases$aces_poisson_agq <- glmer_case("aces_poisson_agq", WASONs ~ STRESS + Female + (1 | UserID),
  aces, poisson(), 9, "shared:aces_daily/aces_daily.csv (rows with WASONs and STRESS)",
  c(0.6, 0.1, 0.05, 0.1))
out$cases$flare_slope <- glmer_case("flare_slope", flare ~ poor_night + age_c + (1 + poor_night | id),
  flare, binomial(), 1, "case:data/flare.csv", c(0.9, 0.1, 0.5, -1.5, 0.6, 0.2))

# negative binomial
nbfit <- glmer.nb(wakings ~ stress_c + (1 | id), data = awake, control = CTRL_TIGHT)
nbcc <- coef(summary(nbfit))
out$cases$awake_nb <- list(
  name = "awake_nb", kind = "glmer.nb", formula = "wakings ~ stress_c + (1 | id)",
  source = "case:data/awakenings.csv", nobs = nobs(nbfit),
  theta = unname(getME(nbfit, "theta")), fixef = as.list(fixef(nbfit)),
  se = as.list(nbcc[, "Std. Error"]), nb_size = getME(nbfit, "glmer.nb.theta"),
  logLik = as.numeric(logLik(nbfit)), AIC = AIC(nbfit), BIC = BIC(nbfit),
  minus2ll = -2 * as.numeric(logLik(nbfit)))
nbfixed <- glmer(wakings ~ stress_c + (1 | id), data = awake,
                 family = MASS::negative.binomial(2.0), control = CTRL_TIGHT, devFunOnly = TRUE)
out$cases$awake_nb$fixed_pars <- c(0.5, 0.2, 0.1)
out$cases$awake_nb$fixed_size <- 2.0
out$cases$awake_nb$devfun_at_fixed <- nbfixed(c(0.5, 0.2, 0.1))

# ---------------------------------------------------------------------------------------
# clmm on ordinal::wine
data(wine, package = "ordinal")
wine_df <- data.frame(rating = as.integer(wine$rating), temp = as.character(wine$temp),
                      contact = as.character(wine$contact), judge = as.integer(wine$judge),
                      bottle = as.integer(wine$bottle))
write.csv(wine_df, file.path(DATA, "wine.csv"), row.names = FALSE)
# ordinal's inner Newton for the modes stops at max|gradient| < 1e-4 by default, which
# leaves its Laplace logLik inexact by ~1e-5; "tight" refits use gradTol = 1e-9.
CLMM_TIGHT <- clmm.control(gradTol = 1e-9, maxIter = 200)
clmm_case <- function(name, formula, data, fixed_par = NULL, refit_tight = TRUE,
                      at_tol = 1e-12) {
  fit <- clmm(formula, data = data, link = "logit", threshold = "flexible")
  tight <- if (refit_tight) clmm(formula, data = data, link = "logit",
                                 threshold = "flexible", control = CLMM_TIGHT) else fit
  cc <- coef(summary(fit))
  cct <- coef(summary(tight))
  vc <- VarCorr(fit)
  at <- function(par) {
    f0 <- suppressWarnings(clmm(formula, data = data, start = par,
      control = clmm.control(iter.max = 0, eval.max = 1, gradTol = at_tol, maxIter = 200)))
    f0$logLik
  }
  out <- list(name = name, kind = "clmm", formula = deparse(formula, width.cutoff = 500),
       source = "ordinal::wine", nobs = nobs(fit),
       coef = as.list(fit$coefficients), se = as.list(cc[, "Std. Error"]),
       alpha = as.list(fit$alpha), beta = as.list(fit$beta),
       st = lapply(vc, function(m) attr(m, "stddev")),
       corr = lapply(vc, function(m) { r <- attr(m, "correlation"); if (is.null(r)) NULL else r[lower.tri(r)] }),
       logLik = as.numeric(logLik(fit)), AIC = AIC(fit), BIC = BIC(fit),
       ranef_head = head(ranef(fit)[[1]][, 1], 5),
       niter = fit$niter, maxGrad = max(abs(fit$gradient)), condHess = fit$condHess,
       tight = if (!refit_tight) NULL else list(coef = as.list(tight$coefficients), se = as.list(cct[, "Std. Error"]),
                    logLik = as.numeric(logLik(tight)),
                    st = lapply(VarCorr(tight), function(m) attr(m, "stddev"))),
       logLik_at_opt_tight = tryCatch(at(fit$optRes$par), error = function(e) NA))
  if (!is.null(fixed_par)) {
    out$fixed_par <- fixed_par
    out$logLik_at_fixed <- at(fixed_par)
  }
  out
}
wine_df$rating <- factor(wine_df$rating, ordered = TRUE)
# fixed_par: thresholds, beta, log(sd) of the judge intercept (ordinal's parametrisation)
out$cases$wine_clmm <- clmm_case("wine_clmm", rating ~ temp + contact + (1 | judge), wine_df,
                                 fixed_par = c(-1.5, 1.5, 4, 6, 3, 2, log(1.2)))
out$cases$wine_clmm_slope <- clmm_case("wine_clmm_slope",
  rating ~ temp + contact + (1 + contact | judge), wine_df)

# ---------------------------------------------------------------------------------------
# real data: openplay (daily surveys of 1,275 players), 5-level sleep quality and stress
op <- read.csv(gzfile(file.path(SHARED, "openplay", "survey_daily.csv.gz")),
               stringsAsFactors = FALSE)
q_levels <- c("Very poor", "Poor", "Fair", "Good", "Very good")
op <- data.frame(
  pid = op$pid,
  sleepq = factor(op$sleep_diary_quality, levels = q_levels, ordered = TRUE),
  poor_sleep = ifelse(is.na(op$sleep_diary_quality), NA,
                      as.integer(op$sleep_diary_quality %in% c("Very poor", "Poor"))),
  stress = ifelse(is.na(op$had_stress) | op$had_stress == "", NA,
                  as.integer(op$had_stress == "Yes")),
  valence10 = op$affective_valence / 10)
op <- op[complete.cases(op), ]
out$cases$openplay_binary <- glmer_case("openplay_binary",
  stress ~ poor_sleep + valence10 + (1 + poor_sleep | pid), op, binomial(), 1,
  "shared:openplay/survey_daily.csv.gz (complete rows)", c(1.0, 0.1, 0.4, -0.5, 0.5, -0.2))
# (no gradTol = 1e-9 refit here: ordinal's R-level inner loop cannot reach it on 1,275
# groups and runs for many minutes; the fixed-parameter value uses gradTol = 1e-8)
out$cases$openplay_clmm <- clmm_case("openplay_clmm", sleepq ~ stress + valence10 + (1 | pid), op,
  fixed_par = c(-3, -1.5, 0.5, 2.5, -0.3, 0.3, log(1.5)), refit_tight = FALSE, at_tol = 1e-8)
out$cases$openplay_clmm$source <- "shared:openplay/survey_daily.csv.gz (complete rows)"

print(warnings())
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           file.path(HERE, "glmer_refs.json"))
cat("wrote", file.path(HERE, "glmer_refs.json"), "\n")
