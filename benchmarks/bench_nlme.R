#!/usr/bin/env Rscript
# Time nlme::lme with a residual correlation on a CSV, for benchmarks/bench_nlme.py.
#
# Usage: Rscript benchmarks/bench_nlme.R DATA.csv CORR(ar1|car1) [REML=TRUE]
# Data columns: id, t, x, y. Model: lme(y ~ x, random = ~ x | id,
# correlation = corCAR1(form = ~ t | id)) (or corAR1). Reading the CSV is not timed.
# Prints one JSON object: elapsed seconds, logLik, phi, fixed effects, versions.
suppressPackageStartupMessages({
  library(nlme)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
corr <- if (length(args) >= 2) args[2] else "car1"
reml <- if (length(args) >= 3) as.logical(args[3]) else TRUE
cs <- if (corr == "ar1") corAR1(form = ~ t | id) else corCAR1(form = ~ t | id)
fit <- NULL
t <- system.time(fit <- lme(y ~ x, random = ~ x | id, data = d, correlation = cs,
                            method = if (reml) "REML" else "ML"))
cat(toJSON(list(
  elapsed = unname(t["elapsed"]), user = unname(t["user.self"]),
  logLik = as.numeric(logLik(fit)),
  phi = as.numeric(coef(fit$modelStruct$corStruct, unconstrained = FALSE)),
  fixef = as.list(fixef(fit)),
  R = R.version.string, nlme = as.character(packageVersion("nlme"))
), auto_unbox = TRUE, digits = NA))
