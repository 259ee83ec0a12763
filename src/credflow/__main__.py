from credflow.cli import app

app(prog_name="credflow")
