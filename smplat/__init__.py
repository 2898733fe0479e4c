"""SMPLAT: storefront and operations platform for social-media growth services."""
