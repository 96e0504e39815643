# Reference values for tests/analysis/test_contest.py: the difference of two fixed effects
# (worse vs better nights; first vs last prompt) tested with lmerTest's contest() (t test,
# Satterthwaite df of the linear contrast), on the frames written by make_contest_data.py.
# Usage (from the repository root): Rscript tests/reference/contest/contest_lmertest.R
suppressMessages({library(lme4); library(lmerTest); library(jsonlite)})
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
cases <- sub("\\.formula$", "", list.files(here, pattern = "\\.formula$"))
out <- list()
for (name in cases) {
  spec <- readLines(file.path(here, paste0(name, ".formula")))
  d <- read.csv(file.path(here, paste0(name, ".csv")))
  d$id <- factor(d$id)
  fit <- lmerTest::lmer(as.formula(spec[1]), data = d, REML = TRUE,
    control = lmerControl(optimizer = "bobyqa",
      optCtrl = list(rhobeg = 2e-4, rhoend = 2e-11, maxfun = 1e5)))
  L <- setNames(numeric(length(fixef(fit))), names(fixef(fit)))
  L[spec[2]] <- 1
  L[spec[3]] <- -1
  ct <- contest(fit, L, joint = FALSE)
  co <- summary(fit)$coefficients
  out[[name]] <- list(
    formula = spec[1], term_a = spec[2], term_b = spec[3], nobs = nobs(fit),
    reml_criterion = REMLcrit(fit), beta = as.list(fixef(fit)),
    df_a = unname(co[spec[2], "df"]), df_b = unname(co[spec[3], "df"]),
    estimate = unname(ct$Estimate), std_error = unname(ct[["Std. Error"]]),
    df = unname(ct$df), statistic = unname(ct[["t value"]]),
    p_value = unname(ct[["Pr(>|t|)"]]), singular = isSingular(fit))
}
res <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
  lmerTest = as.character(packageVersion("lmerTest")), cases = out)
write(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE),
  file.path(here, "contest_lmertest.json"))
