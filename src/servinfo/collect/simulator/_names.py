"""Small synthetic word lists: people, companies, streets. Invented or common, never real people."""

from __future__ import annotations

GIVEN_NAMES: tuple[str, ...] = (
    "Anna", "Ben", "Carla", "David", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas",
    "Kaito", "Lena", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Samir", "Tara",
    "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zoe", "Aiko", "Bruno", "Chloe", "Dmitri",
    "Emma", "Felix", "Hana", "Ivan", "Julia", "Kofi", "Lucia", "Mei", "Noah", "Olga",
)  # fmt: skip

FAMILY_NAMES: tuple[str, ...] = (
    "Adler", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen", "Ito",
    "Jansen", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quinn",
    "Rossi", "Schmid", "Tanaka", "Usman", "Vogel", "Weber", "Xu", "Yilmaz", "Zimmermann",
    "Brennan", "Chen", "Devi", "Novak", "Silva", "Keller", "Lee", "Murphy", "Sato", "Tan",
)  # fmt: skip

COMPANY_FIRST: tuple[str, ...] = (
    "Northwind", "Bluefield", "Cedar", "Driftwood", "Emberline", "Foxglove", "Granite",
    "Harbor", "Ironbark", "Juniper", "Kestrel", "Lumen", "Meridian", "Nimbus", "Orchid",
    "Pinecrest", "Quartz", "Riverbend", "Silverleaf", "Tidewater", "Upland", "Vantage",
    "Willow", "Yarrow", "Zephyr",
)  # fmt: skip

COMPANY_SECOND: tuple[str, ...] = (
    "Analytics", "Logistics", "Health", "Retail", "Media", "Robotics", "Energy", "Labs",
    "Finance", "Games", "Foods", "Mobility", "Software", "Travel", "Studios",
)  # fmt: skip

PARTNER_SECOND: tuple[str, ...] = (
    "Cloud Partners", "IT Services", "Systems", "Consulting", "Digital", "Managed Services",
)  # fmt: skip

#: Legal-form suffix by the home country of an organization.
LEGAL_FORM: dict[str, str] = {
    "DE": "GmbH", "AT": "GmbH", "CH": "AG", "GB": "Ltd", "IE": "Ltd", "US": "Inc.",
    "SG": "Pte. Ltd.", "FR": "SAS", "NL": "B.V.", "AU": "Pty Ltd", "JP": "K.K.",
}  # fmt: skip

JOB_TITLES: tuple[str, ...] = (
    "Software Engineer", "Platform Engineer", "DevOps Engineer", "CTO", "Data Scientist",
    "Site Reliability Engineer", "Finance Manager", "IT Administrator", "Security Engineer",
    "Product Manager", "Founder", "Accounts Payable Clerk", "Solutions Architect",
)  # fmt: skip

STREETS: tuple[str, ...] = (
    "Hauptstrasse", "High Street", "Main Street", "Bahnhofstrasse", "Rue de la Paix",
    "Market Road", "Harbour Lane", "Orchard Way", "Station Road", "Lindenallee",
)  # fmt: skip
