# Reference values for sleeppain.mr computed with base R and robustbase (no TwoSampleMR /
# MendelianRandomization: they are not installable offline). Each quantity is computed the way
# those packages compute it (lm with weights, optim Nelder-Mead, density(), lmrob), so the
# Python port can be checked to full precision, beyond the vignettes' printed digits.
#
# Run from the repository root:  Rscript tests/reference/mr/mr_reference.R
# Data: ../shared/data/mr (or $SLEEPPAIN_SHARED_DATA/mr).
suppressPackageStartupMessages({library(jsonlite); library(robustbase)})
root <- Sys.getenv("SLEEPPAIN_SHARED_DATA", file.path("..", "shared", "data"))
mr <- file.path(root, "mr")

ivw_lm <- function(bx, by, sy) {
  s <- summary(lm(by ~ -1 + bx, weights = 1 / sy^2))
  list(b = s$coef[1, 1], se_random = s$coef[1, 2] / min(1, s$sigma),
       se_fixed = s$coef[1, 2] / s$sigma, Q = s$sigma^2 * (length(bx) - 1), sigma = s$sigma)
}
egger_lm <- function(bx, by, sy) {
  sg <- sign(bx); sg[sg == 0] <- 1
  y <- by * sg; x <- abs(bx)
  s <- summary(lm(y ~ x, weights = 1 / sy^2))
  m <- min(1, s$sigma)
  list(b = s$coef[2, 1], se = s$coef[2, 2] / m, b_i = s$coef[1, 1], se_i = s$coef[1, 2] / m,
       Q = s$sigma^2 * (length(bx) - 2))
}
ml_nm <- function(bx, by, sx, sy) {
  k <- length(bx)
  ll <- function(p) 1/2 * sum((bx - p[1:k])^2 / sx^2) + 1/2 * sum((by - p[k + 1] * p[1:k])^2 / sy^2)
  o <- optim(c(bx, sum(bx * by / sy^2) / sum(bx^2 / sy^2)), ll, hessian = TRUE,
             control = list(maxit = 25000))
  v <- solve(o$hessian)[k + 1, k + 1]
  list(b = o$par[k + 1], se_fixed = sqrt(v), se_random = sqrt(v * max(2 * o$value / (k - 1), 1)),
       Q = 2 * o$value, convergence = o$convergence)
}
robust <- function(bx, by, sy) {
  f <- lmrob(by ~ bx - 1, weights = sy^(-2), k.max = 500, maxit.scale = 500)
  s <- summary(f)
  list(b = s$coef[1, 1], se = s$coef[1, 2] / min(s$sigma, 1), scale = s$sigma,
       s_estimate = unname(f$init.S$coefficients[1]))
}
penalised <- function(bx, by, sy) {
  th <- median(by / bx)
  pw <- pchisq((bx^2 / sy^2) * (by / bx - th)^2, df = 1, lower.tail = FALSE)
  s <- summary(lm(by ~ bx - 1, weights = sy^(-2) * pmin(1, pw * 100)))
  list(b = s$coef[1, 1], se = s$coef[1, 2] / min(s$sigma, 1))
}
mode_old <- function(bx, by, sx, sy, weighted) {
  r <- by / bx
  se <- sqrt(sy^2 / bx^2 + by^2 * sx^2 / bx^4)
  if (!weighted) se <- rep(1, length(r))
  s <- 0.9 * min(sd(r), mad(r)) / length(r)^(1/5)
  w <- se^-2 / sum(se^-2)
  d <- density(r, weights = w, bw = max(1e-8, s))  # R < 4.4: old coordinates
  list(mode = d$x[d$y == max(d$y)], x = d$x[c(1, 100, 256, 512)], y = d$y[c(1, 100, 256, 512)])
}
run <- function(bx, by, sx, sy) {
  list(ivw = ivw_lm(bx, by, sy), egger = egger_lm(bx, by, sy), ml = ml_nm(bx, by, sx, sy),
       robust = robust(bx, by, sy), penalised = penalised(bx, by, sy),
       simple_mode = mode_old(bx, by, sx, sy, FALSE), weighted_mode = mode_old(bx, by, sx, sy, TRUE))
}

ldl <- read.csv(file.path(mr, "mendelianrandomization", "lipids_chd_28snps.csv"))
bmi <- read.csv(file.path(mr, "twosamplemr", "bmi_ieu-a-2__chd_ieu-a-7_harmonised_dat.csv"))
out <- list(
  R_version = R.version.string,
  robustbase_version = as.character(packageVersion("robustbase")),
  note = "density() here uses R < 4.4 coordinates (old.coords); TwoSampleMR's printed modes need R >= 4.4",
  ldl_chd = run(ldl$ldlc, ldl$chdlodds, ldl$ldlcse, ldl$chdloddsse),
  bmi_chd = run(bmi$beta.exposure, bmi$beta.outcome, bmi$se.exposure, bmi$se.outcome)
)
write_json(out, file.path("tests", "reference", "mr", "mr_reference.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE)
