#!/usr/bin/env Rscript
# Time lme4::lmer on a CSV for benchmarks/bench_lmm.py.
#
# Usage: Rscript benchmarks/bench_lmm.R DATA.csv "FORMULA" [REML=TRUE] [REPEATS=1]
# Reading the CSV is not timed; each lmer() call is timed with system.time(). Prints one
# JSON object on stdout: elapsed seconds of each repeat (and the best), the REML criterion
# or deviance, fixed effects, theta, the optimiser and the package versions.

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 2) stop("usage: bench_lmm.R DATA.csv FORMULA [REML] [REPEATS]")
path <- args[1]
formula <- as.formula(args[2])
reml <- if (length(args) >= 3) as.logical(args[3]) else TRUE
repeats <- if (length(args) >= 4) as.integer(args[4]) else 1L

d <- read.csv(path)
fit <- NULL
elapsed <- numeric(0)
user <- numeric(0)
for (i in seq_len(repeats)) {
  t <- system.time(fit <- lmer(formula, data = d, REML = reml))
  elapsed <- c(elapsed, unname(t["elapsed"]))
  user <- c(user, unname(t["user.self"]))
}
conv <- fit@optinfo$conv$lme4$messages
out <- list(
  elapsed = I(elapsed),
  best = min(elapsed),
  user = I(user),
  nobs = nobs(fit),
  objective = if (reml) REMLcrit(fit) else deviance(fit),
  fixef = as.list(fixef(fit)),
  theta = I(unname(getME(fit, "theta"))),
  optimizer = fit@optinfo$optimizer,
  convergence_messages = I(if (is.null(conv)) character(0) else conv),
  R = R.version.string,
  lme4 = as.character(packageVersion("lme4")),
  Matrix = as.character(packageVersion("Matrix"))
)
cat(toJSON(out, auto_unbox = TRUE, digits = NA), "\n")
