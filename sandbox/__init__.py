"""A local fake of the Tencent Cloud Chat backend."""
