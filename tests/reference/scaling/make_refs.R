#!/usr/bin/env Rscript
# lme4 on a random-slope model whose predictor sits around 1e4, uncentred and centred
# (issue 10: "lme4 stops far above the optimum; both reach it once the predictor is
# centred"), and standardised ((x - mean) / sd, where lme4 converges on both data sets).
# Data: narrow.csv and wide.csv, written by make_data.py.
#
# Usage: Rscript tests/reference/scaling/make_refs.R   (writes scaling_refs.json here)
suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(jsonlite)
})
here <- dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[1])))

fit_one <- function(formula, d, reml) {
  warn <- character(0)
  fit <- withCallingHandlers(
    tryCatch(lmerTest::lmer(formula, d, REML = reml), error = function(e) e),
    warning = function(w) {
      warn <<- c(warn, conditionMessage(w))
      invokeRestart("muffleWarning")
    }
  )
  if (inherits(fit, "error")) {
    return(list(error = conditionMessage(fit), warnings = warn))
  }
  list(
    objective = if (reml) unname(REMLcrit(fit)) else unname(deviance(fit)),
    fixef = as.list(fixef(fit)),
    theta = unname(getME(fit, "theta")),
    sigma = sigma(fit),
    slope_var = unname(VarCorr(fit)$g[2, 2]),
    se = unname(sqrt(diag(as.matrix(vcov(fit))))),
    df = unname(summary(fit)$coefficients[, "df"]),
    warnings = warn
  )
}

out <- list(
  R = R.version.string,
  lme4 = as.character(packageVersion("lme4")),
  lmerTest = as.character(packageVersion("lmerTest")),
  optimizer = "lme4 default (nloptwrap / BOBYQA)",
  cases = list()
)
for (name in c("narrow", "wide")) {
  d <- read.csv(file.path(here, paste0(name, ".csv")))
  d$g <- factor(d$g)
  sd_x <- sd(d$x)
  d$xs <- (d$x - mean(d$x)) / sd_x
  for (reml in c(FALSE, TRUE)) {
    key <- paste0(name, if (reml) "_reml" else "_ml")
    out$cases[[key]] <- list(
      uncentred = fit_one(y ~ x + (1 + x | g), d, reml),
      centred = fit_one(y ~ xc + (1 + xc | g), d, reml),
      # standardised: the ML deviance is the same function of the model; the REML
      # criterion of the x (or xc) model is this one + 2 log(sd_x) (log|X'V^-1X| term)
      standardised = fit_one(y ~ xs + (1 + xs | g), d, reml),
      # df of the uncentred intercept = contrast (1, -mean/sd) of the standardised fit
      intercept_df = contest1D(
        lmerTest::lmer(y ~ xs + (1 + xs | g), d, REML = reml), c(1, -mean(d$x) / sd_x)
      )$df,
      mean_x = mean(d$x),
      sd_x = sd_x
    )
  }
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), file.path(here, "scaling_refs.json"))
