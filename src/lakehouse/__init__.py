"""Daily lakehouse ETL job: landing -> bronze -> silver -> gold on Delta Lake."""

__all__ = ["__version__"]
__version__ = "0.1.0"
