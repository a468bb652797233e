"""The product catalogue: a realistic, fixed set of plans and services with list prices (CNY)."""

from __future__ import annotations

from typing import NamedTuple


class Product(NamedTuple):
    """One row of bss.products; product_id is its 1-based position in PRODUCTS."""

    code: str
    name: str
    category: str
    business_type: str  # MOB / BRD / IPT / VAS, the line of business that keeps its orders
    price: float  # monthly list price, CNY
    data_allowance_gb: float | None


PRODUCTS: list[Product] = [
    Product("M4G-19", "4G Basic 19", "mobile_4g", "MOB", 19.00, 5),
    Product("M4G-39", "4G Smart 39", "mobile_4g", "MOB", 39.00, 20),
    Product("M4G-59", "4G Plus 59", "mobile_4g", "MOB", 59.00, 40),
    Product("M5G-79", "5G Starter 79", "mobile_5g", "MOB", 79.00, 60),
    Product("M5G-129", "5G Pro 129", "mobile_5g", "MOB", 129.00, 100),
    Product("M5G-199", "5G Ultra 199", "mobile_5g", "MOB", 199.00, 200),
    Product("M5G-299", "5G Family Share 299", "mobile_5g", "MOB", 299.00, 300),
    Product("DP-5G-10", "5G Data Pack 10GB", "data_pack", "MOB", 20.00, 10),
    Product("DP-5G-30", "5G Data Pack 30GB", "data_pack", "MOB", 50.00, 30),
    Product("DP-5G-100", "5G Data Pack 100GB", "data_pack", "MOB", 100.00, 100),
    Product("DP-VID-40", "Video Directional Pack 40GB", "data_pack", "MOB", 30.00, 40),
    Product("DP-NIGHT-20", "Night Data Pack 20GB", "data_pack", "MOB", 15.00, 20),
    Product("BB-100M", "Broadband 100M", "broadband", "BRD", 60.00, None),
    Product("BB-300M", "Broadband 300M", "broadband", "BRD", 100.00, None),
    Product("BB-1000M", "Gigabit Broadband 1000M", "broadband", "BRD", 169.00, None),
    Product("TV-BASIC", "IPTV Basic", "iptv", "IPT", 20.00, None),
    Product("TV-4K", "IPTV 4K Premium", "iptv", "IPT", 40.00, None),
    Product("VIP-VIDEO-M", "Video Membership Monthly", "video_membership", "VAS", 25.00, None),
    Product("VIP-VIDEO-Y", "Video Membership Yearly", "video_membership", "VAS", 238.00, None),
    Product("VIP-MUSIC", "Music Membership", "video_membership", "VAS", 15.00, None),
    Product("SH-CAM", "Smart Home Camera Service", "smart_home", "VAS", 15.00, None),
    Product("SH-GATEWAY", "Smart Home Gateway + Mesh Wi-Fi", "smart_home", "VAS", 30.00, None),
    Product("VAS-CALLER", "Caller Ring Tone", "vas", "VAS", 5.00, None),
    Product("VAS-CLOUD", "Cloud Drive 1TB", "vas", "VAS", 10.00, None),
    Product("VAS-SAFE", "Anti-fraud Guard", "vas", "VAS", 3.00, None),
]

# Which categories each life stage buys, as weights over PRODUCTS (index-aligned below).
# Young users: 5G plans, data packs, video; families: broadband, IPTV, smart home; seniors: 4G.
SEGMENT_CATEGORY_WEIGHTS: dict[str, dict[str, float]] = {
    "young": {
        "mobile_5g": 3.0,
        "data_pack": 4.0,
        "video_membership": 2.5,
        "mobile_4g": 0.5,
        "broadband": 0.3,
        "iptv": 0.1,
        "smart_home": 0.1,
        "vas": 0.8,
    },
    "family": {
        "mobile_5g": 1.5,
        "data_pack": 1.0,
        "video_membership": 0.8,
        "mobile_4g": 1.0,
        "broadband": 2.5,
        "iptv": 2.0,
        "smart_home": 1.2,
        "vas": 0.8,
    },
    "senior": {
        "mobile_5g": 0.3,
        "data_pack": 0.3,
        "video_membership": 0.1,
        "mobile_4g": 3.0,
        "broadband": 1.0,
        "iptv": 1.2,
        "smart_home": 0.2,
        "vas": 1.5,
    },
}

# Each line of business keeps its own status codes: (pending, activated, cancelled).
STATUS_CODES: dict[str, tuple[str, str, str]] = {
    "MOB": ("PENDING_PAY", "ACTIVE", "CANCELLED"),
    "BRD": ("awaiting_payment", "installed", "withdrawn"),
    "IPT": ("unpaid", "enabled", "void"),
    "VAS": ("unpaid", "enabled", "void"),
}

CHANNELS_ORDER = ["app", "wechat", "mini_program", "store", "agent"]
CHANNELS_ACQUISITION = ["store", "app", "wechat", "mini_program", "agent", "telesales"]
MOBILE_PREFIXES = [
    130,
    131,
    132,
    133,
    135,
    136,
    137,
    138,
    139,
    150,
    151,
    152,
    155,
    156,
    157,
    158,
    159,
    166,
    173,
    176,
    177,
    180,
    181,
    182,
    183,
    185,
    186,
    187,
    188,
    189,
    191,
    198,
    199,
]
REGIONS = ["Dongcheng", "Xicheng", "Chaoyang", "Haidian", "Fengtai", "Shijingshan", "Tongzhou", "Changping"]
