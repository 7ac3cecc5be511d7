"""PyTorch side of hyperconn's interop: safetensors I/O and the reference modules rebuilt."""
