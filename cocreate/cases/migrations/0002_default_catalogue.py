"""Installs the default dispute categories and time limits (``cocreate.cases.defaults``)."""

from django.db import migrations

from cocreate.cases.defaults import CATEGORIES, LIMITS, install_defaults


def load(apps, schema_editor):
    install_defaults(apps.get_model("cases", "CaseCategory"), apps.get_model("cases", "TimeLimit"))


def unload(apps, schema_editor):
    limit = apps.get_model("cases", "TimeLimit")
    for urgency, step, _amount, _unit in LIMITS:
        limit.objects.filter(category=None, urgency=urgency, step=step).delete()
    apps.get_model("cases", "CaseCategory").objects.filter(code__in=[c for c, _n in CATEGORIES]).delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
