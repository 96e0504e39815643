# lavaan side of benchmarks/bench_panel.py: fit the RI-CLPM and the CLPM by FIML and time it.
# Usage: Rscript benchmarks/bench_panel.R data.csv waves out.json
suppressPackageStartupMessages({ library(lavaan); library(jsonlite) })
args <- commandArgs(trailingOnly = TRUE)
dat <- read.csv(args[1]); waves <- as.integer(args[2])
syntax <- function(ri) {
  w <- function(v, t) if (ri) paste0("w_", v, t) else paste0(v, t)
  l <- character(0)
  if (ri) {
    for (v in c("x", "y")) l <- c(l, paste0("RI_", v, " =~ ", paste0("1*", v, 1:waves, collapse = " + ")))
    for (v in c("x", "y")) for (t in 1:waves) l <- c(l, paste0(w(v, t), " =~ 1*", v, t))
  }
  for (t in 2:waves) for (v in c("x", "y")) l <- c(l, paste0(w(v, t), " ~ ", w("x", t - 1), " + ", w("y", t - 1)))
  for (t in 1:waves) l <- c(l, paste0(w("x", t), " ~~ ", w("x", t)), paste0(w("x", t), " ~~ ", w("y", t)),
                             paste0(w("y", t), " ~~ ", w("y", t)))
  if (ri) {
    l <- c(l, "RI_x ~~ RI_x", "RI_x ~~ RI_y", "RI_y ~~ RI_y")
    for (v in c("x", "y")) for (t in 1:waves) l <- c(l, paste0(v, t, " ~~ 0*", v, t))
  }
  paste(l, collapse = "\n")
}
out <- list()
for (kind in c("riclpm", "clpm")) {
  t0 <- proc.time()[["elapsed"]]
  fit <- lavaan(syntax(kind == "riclpm"), data = dat, missing = "ml", meanstructure = TRUE,
                int.ov.free = TRUE, fixed.x = FALSE)
  secs <- proc.time()[["elapsed"]] - t0
  pe <- parameterEstimates(fit)
  out[[kind]] <- list(seconds = secs, chisq = fitMeasures(fit, "chisq")[[1]],
                      params = data.frame(lhs = pe$lhs, op = pe$op, rhs = pe$rhs, est = pe$est))
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA), args[3])
