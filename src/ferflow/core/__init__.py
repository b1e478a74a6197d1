"""The bottom layer: what every stage shares and nothing in ferflow sits under.

`atomic` writes files (temporary name, then rename), `checkpoint` saves and loads model files, `runtime`
picks the device and the process's place in a distributed run. See `ferflow.layers` for the order.
"""
