"""The lines of a Russian housing bill (ЕПД), as codes shared by the billing import, the
debt breakdown and the templates that name them (smsbot/templates_sms/<lang>/_words.jinja). Pure.
"""

from __future__ import annotations

SERVICES = (
    "maintenance",
    "capital_repairs",
    "cold_water",
    "hot_water",
    "sewerage",
    "heating",
    "electricity",
    "gas",
    "waste",
    "intercom",
    "antenna",
    "penalty",
    "other",
)
"""In the order a bill lists them: содержание жилого помещения, взнос на капремонт, ХВС, ГВС,
водоотведение, отопление, электроснабжение, газ, обращение с ТКО, домофон, антенна, пени,
прочее."""
