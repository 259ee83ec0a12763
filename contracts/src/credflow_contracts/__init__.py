"""credflow's public event contracts."""
