"""Datasets and where they come from.

- `classes`: the 1000 ImageNet wnids in the torchvision order.
- `imagenet`: labelled image lists (ImageNet validation layouts), deterministic stratified subsets.
- `decode`: decode + Resize + CenterCrop once per image, kept as uint8 in an on-disk cache.
- `batches`: uint8 batches with decoding running ahead of the model.
- `sources`: data roots, mirrors and checksummed fetches.
"""
