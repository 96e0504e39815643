# Reference values for sp.clpm / sp.riclpm from lavaan 0.6 (Debian r-cran-lavaan).
#
# Models as in Mulder & Hamaker (2021, Structural Equation Modeling 28:638), written here
# by an R generator of lavaan syntax independent of the Python model builder:
# random intercepts (loadings 1, free (co)variances), within components (loadings 1,
# observed residual variances fixed at 0), lagged paths between consecutive within
# components, free wave-1 (co)variances and per-wave residual (co)variances, free
# observed means. The CLPM regresses the observed variables on each other directly.
#
# lavaan's defaults (nlminb) stop about 1e-6 relative away from the optimum, so the
# Open Play affective valence (0-100) is divided by 10 (a 0-10 scale, as pain ratings):
# its variances (~1.3 instead of ~130) then sit within the tests' 1e-4.
#
# The simulated panels (sim5.csv, sim3.csv) are written by make_lavaan_data.py.
#
# Usage (from the repository root):  Rscript tests/reference/lavaan/lavaan_reference.R
# Writes tests/reference/lavaan/lavaan_reference.json. The openplay case reads
# ../shared/data/openplay/survey_daily.csv.gz and is skipped when it is absent.

suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})

here <- "tests/reference/lavaan"

panel_syntax <- function(vars, waves, ri = TRUE, constrained = FALSE, covariates = NULL) {
  obs <- function(v, t) paste0(v, t)
  w <- function(v, t) if (ri) paste0("w_", v, t) else paste0(v, t)
  lines <- character(0)
  if (ri) {
    for (v in vars) {
      lines <- c(lines, paste0("RI_", v, " =~ ",
                               paste0("1*", obs(v, waves), collapse = " + ")))
    }
    for (v in vars) for (t in waves) lines <- c(lines, paste0(w(v, t), " =~ 1*", obs(v, t)))
  }
  for (i in seq_along(waves)[-1]) {
    t <- waves[i]; s <- waves[i - 1]
    for (v in vars) {
      rhs <- sapply(vars, function(u) {
        if (constrained) paste0("b_", u, "_", v, "*", w(u, s)) else w(u, s)
      })
      lines <- c(lines, paste0(w(v, t), " ~ ", paste(rhs, collapse = " + ")))
    }
  }
  if (ri && length(covariates)) {
    for (v in vars) lines <- c(lines, paste0("RI_", v, " ~ ", paste(covariates, collapse = " + ")))
  }
  for (t in waves) {
    for (a in seq_along(vars)) for (b in a:length(vars)) {
      lines <- c(lines, paste0(w(vars[a], t), " ~~ ", w(vars[b], t)))
    }
  }
  if (ri) {
    for (a in seq_along(vars)) for (b in a:length(vars)) {
      lines <- c(lines, paste0("RI_", vars[a], " ~~ RI_", vars[b]))
    }
    for (v in vars) for (t in waves) lines <- c(lines, paste0(obs(v, t), " ~~ 0*", obs(v, t)))
  }
  paste(lines, collapse = "\n")
}

measures <- c("npar", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df",
              "baseline.pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper",
              "rmsea.pvalue", "srmr", "logl", "unrestricted.logl", "aic", "bic", "ntotal")

fit_case <- function(name, data, vars, waves, ri, constrained, missing,
                     covariates = NULL, note = "") {
  syntax <- panel_syntax(vars, waves, ri, constrained, covariates)
  fit <- lavaan(syntax, data = data, missing = missing, meanstructure = TRUE,
                int.ov.free = TRUE, int.lv.free = FALSE,
                fixed.x = length(covariates) > 0, auto.var = FALSE, auto.cov.lv.x = FALSE)
  pe <- parameterEstimates(fit, standardized = TRUE, remove.nonfree = FALSE)
  pe <- pe[pe$op %in% c("=~", "~", "~~", "~1"), ]
  fm <- fitMeasures(fit, measures)
  list(
    name = name,
    note = note,
    model = if (ri) "riclpm" else "clpm",
    constrained = constrained,
    missing = missing,
    vars = vars,
    waves = waves,
    covariates = if (is.null(covariates)) character(0) else covariates,
    information = lavInspect(fit, "options")$information[1],
    converged = lavInspect(fit, "converged"),
    nobs = lavInspect(fit, "nobs"),
    syntax = syntax,
    params = data.frame(lhs = pe$lhs, op = pe$op, rhs = pe$rhs, est = pe$est,
                        se = pe$se, std_all = pe$std.all),
    fit = as.list(setNames(as.numeric(fm), names(fm))),
    object = fit
  )
}

cases <- list()
sim5 <- read.csv(file.path(here, "sim5.csv"))
# persons without any observed wave of x or y: not used (the library counts them dropped)
sim5_used <- sim5[rowSums(!is.na(sim5[, paste0(rep(c("x", "y"), each = 5), 1:5)])) > 0, ]
for (missing in c("listwise", "ml")) {
  for (ri in c(TRUE, FALSE)) {
    for (constrained in c(FALSE, TRUE)) {
      nm <- sprintf("sim5_%s_%s_%s", if (ri) "riclpm" else "clpm",
                    if (constrained) "constrained" else "free",
                    if (missing == "ml") "fiml" else "listwise")
      cases[[nm]] <- fit_case(nm, sim5_used, c("x", "y"), 1:5, ri, constrained, missing)
    }
  }
}
for (missing in c("listwise", "ml")) {
  nm <- sprintf("sim5_riclpm_covariate_%s", if (missing == "ml") "fiml" else "listwise")
  cases[[nm]] <- fit_case(nm, sim5_used, c("x", "y"), 1:5, TRUE, FALSE, missing,
                          covariates = "z")
}
sim3 <- read.csv(file.path(here, "sim3.csv"))
cases[["sim3_riclpm_free_listwise"]] <- fit_case("sim3_riclpm_free_listwise", sim3,
                                                 c("a", "b", "c"), 1:4, TRUE, FALSE, "listwise")
cases[["sim3_clpm_constrained_listwise"]] <- fit_case(
  "sim3_clpm_constrained_listwise", sim3, c("a", "b", "c"), 1:4, FALSE, TRUE, "listwise")

# three variables with missing waves (a deterministic rule the Python test repeats)
sim3m <- sim3
for (t in 1:4) sim3m[sim3m$id %% 7 == t, paste0("b", t)] <- NA
sim3m[sim3m$id %% 5 == 0, "c4"] <- NA
cases[["sim3m_riclpm_constrained_fiml"]] <- fit_case(
  "sim3m_riclpm_constrained_fiml", sim3m, c("a", "b", "c"), 1:4, TRUE, TRUE, "ml",
  note = "sim3 with b_t missing when id %% 7 == t and c4 missing when id %% 5 == 0")

openplay <- "../shared/data/openplay/survey_daily.csv.gz"
if (file.exists(openplay)) {
  op <- read.csv(gzfile(openplay), stringsAsFactors = FALSE)
  lev <- c("Very poor" = 1, "Poor" = 2, "Fair" = 3, "Good" = 4, "Very good" = 5)
  op$sleep <- unname(lev[op$sleep_diary_quality])
  op$mood <- op$affective_valence / 10
  op$block <- (op$wave - 1) %/% 6 + 1
  agg <- aggregate(cbind(sleep, mood) ~ pid + block, data = op,
                   FUN = function(v) mean(v, na.rm = TRUE), na.action = na.pass)
  agg$sleep[is.nan(agg$sleep)] <- NA
  agg$mood[is.nan(agg$mood)] <- NA
  wide <- reshape(agg, idvar = "pid", timevar = "block", direction = "wide", sep = "")
  for (v in c("sleep", "mood")) for (t in 1:5) {
    if (!paste0(v, t) %in% names(wide)) wide[[paste0(v, t)]] <- NA
  }
  keep <- rowSums(!is.na(wide[, paste0(rep(c("sleep", "mood"), each = 5), 1:5)])) > 0
  wide <- wide[keep, ]
  note <- "openplay: 6-day block means (survey waves 1-6, 7-12, ...) of sleep quality (1-5) and affective valence / 10"
  for (ri in c(TRUE, FALSE)) for (constrained in c(FALSE, TRUE)) {
    nm <- sprintf("openplay_%s_%s_fiml", if (ri) "riclpm" else "clpm",
                  if (constrained) "constrained" else "free")
    cases[[nm]] <- fit_case(nm, wide, c("sleep", "mood"), 1:5, ri, constrained, "ml",
                            note = note)
  }
  cases$openplay_riclpm_free_fiml$n_persons_with_data <- nrow(wide)
}

anovas <- list()
a <- anova(cases$sim5_riclpm_free_fiml$object, cases$sim5_clpm_free_fiml$object)
anovas$sim5_fiml_clpm_vs_riclpm <- list(
  chisq_diff = a[["Chisq diff"]][2], df_diff = a[["Df diff"]][2], p = a[["Pr(>Chisq)"]][2])
a <- anova(cases$sim5_riclpm_constrained_listwise$object, cases$sim5_riclpm_free_listwise$object)
anovas$sim5_listwise_constrained_vs_free <- list(
  chisq_diff = a[["Chisq diff"]][2], df_diff = a[["Df diff"]][2], p = a[["Pr(>Chisq)"]][2])

for (nm in names(cases)) cases[[nm]]$object <- NULL
out <- list(
  generated_by = "tests/reference/lavaan/lavaan_reference.R",
  r_version = R.version.string,
  lavaan_version = as.character(packageVersion("lavaan")),
  cases = cases,
  anova = anovas
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           file.path(here, "lavaan_reference.json"))
cat("wrote", length(cases), "cases\n")
