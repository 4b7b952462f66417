"""The store: functions over a connection and the named queries, one module per table family.
"""
