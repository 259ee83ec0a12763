"""credflow: the deployable. `credflow serve <service>|all` and the operator commands."""
