"""Installs the default decision rules (``cocreate.participation.defaults``)."""

from django.db import migrations

from cocreate.participation.defaults import RULES, install_rules


def load(apps, schema_editor):
    install_rules(apps.get_model("participation", "VoteRule"), apps.get_model("participation", "RuleThreshold"))


def unload(apps, schema_editor):
    apps.get_model("participation", "VoteRule").objects.filter(code__in=[r[0] for r in RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("participation", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
