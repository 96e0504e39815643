# Reference fits for tests/planning/test_reml.py: lme4 (REML) and lmerTest (Satterthwaite)
# on the datasets in crosslag_data.csv (written by make_data.py).
# Usage: Rscript tests/planning/reference/crosslag_lme4.R
suppressMessages({library(lme4); library(lmerTest); library(jsonlite)})
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
d <- read.csv(file.path(here, "crosslag_data.csv"))
out <- list()
for (key in unique(paste(d$dataset, d$direction, sep = "|"))) {
  parts <- strsplit(key, "|", fixed = TRUE)[[1]]
  s <- d[d$dataset == as.integer(parts[1]) & d$direction == parts[2], ]
  s$id <- factor(s$id)
  fit <- lmerTest::lmer(y ~ focal_w + lag_w + focal_m + lag_m + (1 + focal_w | id), data = s,
    REML = TRUE, control = lmerControl(optimizer = "bobyqa",
      optCtrl = list(rhobeg = 2e-4, rhoend = 2e-11, maxfun = 1e5)))
  co <- summary(fit)$coefficients
  out[[length(out) + 1]] <- list(
    dataset = as.integer(parts[1]), direction = parts[2], nobs = nobs(fit),
    theta = unname(getME(fit, "theta")), beta = unname(fixef(fit)),
    std_error = unname(co[, "Std. Error"]), df_satterthwaite = unname(co[, "df"]),
    sigma = sigma(fit), reml_criterion = REMLcrit(fit), singular = isSingular(fit))
}
res <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
  lmerTest = as.character(packageVersion("lmerTest")), fits = out)
write(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE), file.path(here, "crosslag_lme4.json"))
