__version__ = "1.0.0"
SDK_VERSION = f"python/{__version__}"
