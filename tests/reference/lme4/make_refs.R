#!/usr/bin/env Rscript
# Reference values from lme4 / lmerTest for sleeppain's mixed-model engine (sp.lmm).
#
# Usage (from anywhere):
#   Rscript tests/reference/lme4/make_refs.R [SHARED_DATA_DIR]
# SHARED_DATA_DIR defaults to <repo root>/../shared/data. The project-generated case data
# (tests/reference/lme4/data/*.csv) are written beforehand by make_case_data.py.
# Writes tests/reference/lme4/lme4_refs.json next to this script.
#
# Needs R >= 4.1 with lme4, lmerTest, Matrix and jsonlite
# (Debian: r-base-core r-cran-lme4 r-cran-lmertest r-cran-jsonlite).

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(jsonlite)
})

script_path <- function() {
  arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  if (length(arg) == 0) stop("run this file with Rscript so that it can find itself")
  normalizePath(sub("^--file=", "", arg[1]))
}
HERE <- dirname(script_path())
REPO_ROOT <- normalizePath(file.path(HERE, "..", "..", ".."))
args <- commandArgs(trailingOnly = TRUE)
SHARED <- if (length(args) >= 1) args[1] else file.path(REPO_ROOT, "..", "shared", "data")

CONTROL <- lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5))
CONTROL_TEXT <- 'lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5))'

# ---------------------------------------------------------------------------------------
# Data: "shared:<path under ../shared/data>" or "case:<path under this folder>"
read_source <- function(source) {
  kind <- sub(":.*$", "", source)
  rel <- sub("^[^:]+:", "", source)
  path <- if (kind == "shared") file.path(SHARED, rel) else file.path(HERE, rel)
  if (!file.exists(path)) stop("data file not found: ", path)
  con <- if (grepl("\\.gz$", path)) gzfile(path) else path
  read.csv(con, stringsAsFactors = FALSE, na.strings = c("NA", ""))
}

# Within/between decomposition shared with the Python tests (_within_between there):
# pm = mean of x over the person's rows where x is not missing;
# x_w = x - pm (missing where x is missing);
# x_m = pm - mean(pm over persons with at least one non-missing x).
within_between <- function(d, x, id, w_name, m_name) {
  ok <- !is.na(d[[x]])
  pm <- tapply(d[[x]][ok], d[[id]][ok], mean)
  gm <- mean(pm)
  pm_row <- unname(pm[as.character(d[[id]])])
  d[[w_name]] <- d[[x]] - pm_row
  d[[m_name]] <- pm_row - gm
  d
}

SLEEP_LABELS <- c("Very poor" = 1, "Poor" = 2, "Fair" = 3, "Good" = 4, "Very good" = 5)

preprocess <- function(d, keyword) {
  if (keyword == "none") return(d)
  if (keyword == "paindiary_sleepqual_wb") {
    return(within_between(d, "SleepQual", "Person", "SleepQual_w", "SleepQual_m"))
  }
  if (keyword == "openplay_sleep_quality_wb") {
    d$sq <- unname(SLEEP_LABELS[d$sleep_diary_quality])
    return(within_between(d, "sq", "pid", "sq_w", "sq_m"))
  }
  stop("unknown preprocessing keyword ", keyword)
}

PREPROCESS_TEXT <- list(
  none = "none (complete cases on the model's variables only)",
  paindiary_sleepqual_wb = paste(
    "pm = mean of SleepQual over the person's rows with non-missing SleepQual (all rows of",
    "the file, before dropping any rows); SleepQual_w = SleepQual - pm;",
    "SleepQual_m = pm - (mean of pm over persons); then complete cases on the model's variables"
  ),
  openplay_sleep_quality_wb = paste(
    "sq = sleep_diary_quality mapped 'Very poor','Poor','Fair','Good','Very good' -> 1..5",
    "(empty/NA -> missing); pm = mean of sq over the person's (pid) rows with non-missing sq",
    "(all rows of the file); sq_w = sq - pm; sq_m = pm - (mean of pm over persons with at",
    "least one non-missing sq); then complete cases on the model's variables"
  )
)

# R fixed-effect / random-effect term name -> patsy name
py_name <- function(r) {
  r <- ifelse(r == "(Intercept)", "Intercept", r)
  gsub("factor\\(([A-Za-z0-9_.]+)\\)([A-Za-z0-9_.]+)", "C(\\1)[T.\\2]", r)
}

# ---------------------------------------------------------------------------------------
CASES <- list(
  list(name = "sleepstudy_reml", source = "shared:sleepstudy/sleepstudy.csv", preprocess = "none",
       formula = "Reaction ~ Days + (1 + Days | Subject)", reml = TRUE,
       description = "lme4's sleepstudy, correlated random intercept and slope (Bates et al. 2015 JSS 67(1): REML criterion 1743.6, fixef 251.405 and 10.467)"),
  list(name = "sleepstudy_ml", source = "shared:sleepstudy/sleepstudy.csv", preprocess = "none",
       formula = "Reaction ~ Days + (1 + Days | Subject)", reml = FALSE,
       description = "sleepstudy, correlated random intercept and slope, maximum likelihood"),
  list(name = "sleepstudy_uncorr_reml", source = "shared:sleepstudy/sleepstudy.csv", preprocess = "none",
       formula = "Reaction ~ Days + (1 + Days || Subject)", reml = TRUE,
       description = "sleepstudy, uncorrelated random intercept and slope (double bar)"),
  list(name = "ri_reml", source = "case:data/ri.csv", preprocess = "none",
       formula = "y ~ x + (1 | g)", reml = TRUE,
       description = "synthetic: random intercept, 60 groups of 3-12 rows"),
  list(name = "ri_ml", source = "case:data/ri.csv", preprocess = "none",
       formula = "y ~ x + (1 | g)", reml = FALSE,
       description = "synthetic: random intercept, maximum likelihood"),
  list(name = "slope_corr_ml", source = "case:data/slopes.csv", preprocess = "none",
       formula = "y ~ x + (1 + x | id)", reml = FALSE,
       description = "synthetic: correlated random intercept and slope, maximum likelihood"),
  list(name = "two_slopes_reml", source = "case:data/slopes.csv", preprocess = "none",
       formula = "y ~ x + z + (1 + x + z | id)", reml = TRUE,
       description = "synthetic: random intercept and two correlated random slopes (3x3 covariance)"),
  list(name = "uncorr_slopes_reml", source = "case:data/slopes.csv", preprocess = "none",
       formula = "y ~ x + z + (1 + x + z || id)", reml = TRUE,
       description = "synthetic: uncorrelated random intercept and two slopes (double bar)"),
  list(name = "interaction_factor_reml", source = "case:data/slopes.csv", preprocess = "none",
       formula = "y2 ~ x * z + factor(grp) + (1 + x | id)",
       py_formula = "y2 ~ x * z + C(grp) + (1 + x | id)", reml = TRUE,
       description = "synthetic: interaction x:z and a three-level categorical predictor (R factor(grp) <-> patsy C(grp), treatment coding, reference level a)"),
  list(name = "nested_reml", source = "case:data/nested.csv", preprocess = "none",
       formula = "y ~ x + (1 | person/day)", reml = TRUE,
       description = "synthetic: prompts within days within persons, (1 | person/day) = (1 | person) + (1 | person:day)"),
  list(name = "nested_ml", source = "case:data/nested.csv", preprocess = "none",
       formula = "y ~ x + (1 | person/day)", reml = FALSE,
       description = "synthetic: nested days within persons, maximum likelihood"),
  list(name = "singular_reml", source = "case:data/singular.csv", preprocess = "none",
       formula = "y ~ x + (1 + x | g)", reml = TRUE,
       description = "synthetic: 8 groups, no slope variance in the truth: singular fit"),
  list(name = "paindiary_reml", source = "shared:paindiary/PainDiary.csv", preprocess = "paindiary_sleepqual_wb",
       formula = "Pain ~ SleepQual_w + SleepQual_m + (1 + SleepQual_w | Person)", reml = TRUE,
       description = "PainDiary: within-person and between-person sleep quality -> pain, random within-person slope"),
  list(name = "paindiary_ml", source = "shared:paindiary/PainDiary.csv", preprocess = "paindiary_sleepqual_wb",
       formula = "Pain ~ SleepQual_w + SleepQual_m + (1 + SleepQual_w | Person)", reml = FALSE,
       description = "PainDiary: as paindiary_reml, maximum likelihood"),
  list(name = "openplay_ri_reml", source = "shared:openplay/survey_daily.csv.gz", preprocess = "openplay_sleep_quality_wb",
       formula = "affective_valence ~ sq_w + sq_m + (1 | pid)", reml = TRUE,
       description = "Open Play: last night's sleep quality (within/between) -> affective valence, random intercept"),
  list(name = "openplay_slope_reml", source = "shared:openplay/survey_daily.csv.gz", preprocess = "openplay_sleep_quality_wb",
       formula = "affective_valence ~ sq_w + sq_m + (1 + sq_w | pid)", reml = TRUE,
       description = "Open Play: as openplay_ri_reml with a random within-person slope"),
  list(name = "aces_slope_reml", source = "shared:aces_daily/aces_daily.csv", preprocess = "none",
       formula = "STRESS ~ NegAff + (1 + NegAff | UserID)", reml = TRUE,
       description = "ACES daily: stress on negative affect across all prompt rows, correlated random slope"),
  list(name = "aces_nested_ml", source = "shared:aces_daily/aces_daily.csv", preprocess = "none",
       formula = "STRESS ~ NegAff + (1 | UserID/SurveyDay)", reml = FALSE,
       description = "ACES daily: prompts within survey days within persons, (1 | UserID/SurveyDay), maximum likelihood"),
  list(name = "aces_nested_slope_reml", source = "shared:aces_daily/aces_daily.csv", preprocess = "none",
       formula = "STRESS ~ NegAff + (1 + NegAff | UserID) + (1 | UserID:SurveyDay)", reml = TRUE,
       description = "ACES daily: random slope for persons plus a random intercept for person-days (two grouping factors, one vector-valued)")
)

num <- function(x) I(unname(as.numeric(x)))  # I(): keep length-1 vectors as JSON arrays
chr <- function(x) I(unname(as.character(x)))

run_case <- function(cs) {
  message("case ", cs$name)
  d0 <- read_source(cs$source)
  d <- preprocess(d0, cs$preprocess)
  f <- as.formula(cs$formula)
  vars <- all.vars(f)
  d <- d[complete.cases(d[, vars, drop = FALSE]), , drop = FALSE]

  fit <- lme4::lmer(f, data = d, REML = cs$reml, control = CONTROL)
  tfit <- lmerTest::lmer(f, data = d, REML = cs$reml, control = CONTROL)
  devfun <- lme4::lmer(f, data = d, REML = cs$reml, control = CONTROL, devFunOnly = TRUE)

  theta <- getME(fit, "theta")
  lower <- getME(fit, "lower")
  start <- ifelse(lower == 0, 1, 0)
  perturbed <- ifelse(lower == 0, theta * 1.25 + 0.1, theta + 0.15)
  dev_at <- function(th) list(theta = num(th), value = as.numeric(devfun(th)))

  V <- as.matrix(vcov(fit))
  fe <- fixef(fit)
  coefs <- summary(tfit)$coefficients
  vc <- as.data.frame(VarCorr(fit))
  conv <- fit@optinfo$conv$lme4$messages
  objective <- if (cs$reml) REMLcrit(fit) else deviance(fit)

  list(
    name = cs$name,
    description = cs$description,
    source = cs$source,
    preprocess = cs$preprocess,
    preprocess_description = PREPROCESS_TEXT[[cs$preprocess]],
    variables = chr(vars),
    formula_r = cs$formula,
    formula_py = if (is.null(cs$py_formula)) cs$formula else cs$py_formula,
    reml = cs$reml,
    nobs = nobs(fit),
    ngroups = as.list(ngrps(fit)),
    optimizer = fit@optinfo$optimizer,
    control = CONTROL_TEXT,
    convergence_messages = chr(if (is.null(conv)) character(0) else conv),
    optimizer_warnings = chr(vapply(fit@optinfo$warnings, as.character, "")),
    fixef = list(
      r_terms = chr(names(fe)),
      py_terms = chr(py_name(names(fe))),
      estimate = num(fe),
      std_error = num(sqrt(diag(V)))
    ),
    vcov = lapply(seq_len(nrow(V)), function(i) num(V[i, ])),
    objective = as.numeric(objective),
    objective_kind = if (cs$reml) "REMLcrit" else "deviance",
    loglik = as.numeric(logLik(fit)),
    sigma = sigma(fit),
    theta = num(theta),
    theta_names = chr(names(theta)),
    theta_lower = num(lower),
    varcorr = list(
      grp = chr(vc$grp),
      var1 = chr(vc$var1),
      var2 = chr(vc$var2),
      py_var1 = chr(ifelse(is.na(vc$var1), NA, py_name(vc$var1))),
      py_var2 = chr(ifelse(is.na(vc$var2), NA, py_name(vc$var2))),
      vcov = num(vc$vcov),
      sdcor = num(vc$sdcor)
    ),
    is_singular = isSingular(fit),
    lmertest = list(
      r_terms = chr(rownames(coefs)),
      py_terms = chr(py_name(rownames(coefs))),
      estimate = num(coefs[, "Estimate"]),
      std_error = num(coefs[, "Std. Error"]),
      df = num(coefs[, "df"]),
      t_value = num(coefs[, "t value"]),
      p_value = num(coefs[, "Pr(>|t|)"])
    ),
    devfun = list(
      optimum = dev_at(theta),
      start = dev_at(start),
      perturbed = dev_at(perturbed)
    )
  )
}

cases <- lapply(CASES, run_case)
out <- list(
  generator = "tests/reference/lme4/make_refs.R",
  versions = list(
    R = R.version.string,
    lme4 = as.character(packageVersion("lme4")),
    lmerTest = as.character(packageVersion("lmerTest")),
    Matrix = as.character(packageVersion("Matrix")),
    jsonlite = as.character(packageVersion("jsonlite"))
  ),
  date = format(Sys.time(), "%Y-%m-%d %H:%M:%S UTC", tz = "UTC"),
  control = CONTROL_TEXT,
  notes = paste(
    "objective is REMLcrit(fit) for reml=true and deviance(fit) (-2 logLik) for reml=false;",
    "devfun values from lmer(..., devFunOnly = TRUE) at the optimum theta, at lme4's start",
    "(1 on the diagonal of each relative covariance factor, 0 off) and at a perturbed theta",
    "(diagonal 1.25*theta+0.1, off-diagonal theta+0.15); varcorr is as.data.frame(VarCorr(fit))",
    "(vcov: variance or covariance; sdcor: sd or correlation); lmertest holds",
    "summary(lmerTest::lmer(...))$coefficients (Satterthwaite df)."
  ),
  cases = cases
)
outfile <- file.path(HERE, "lme4_refs.json")
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"), outfile)
message("wrote ", outfile)
