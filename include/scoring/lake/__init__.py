"""The Parquet lake: the store (atomic partitions), background writer, sharding, and the catalog of datasets."""
