__version__ = "1.0.0"
VERSION = __version__  # the name dicabrio-durable-sdk 0.1.0 used
SDK_VERSION = f"python/{__version__}"
