"""Write the simulated diaries the R reference scripts read (run from the repository root).

python tests/reference/mlvar/make_multivariate_sim.py
"""

from sleeppain.multivariate._simulate import simulate_mediation, simulate_var

if __name__ == "__main__":
    simulate_var(80, 40, missing=0.1, seed=2026).round(6).to_csv(
        "tests/reference/mlvar/sim_var.csv", index=False
    )
    simulate_mediation(80, 30, seed=2026).round(6).to_csv(
        "tests/reference/mediation/sim_med.csv", index=False
    )
