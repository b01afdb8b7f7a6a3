"""factory_boy factories for core records."""

from __future__ import annotations

import factory

from cocreate.core.models import Household, Membership, Person, Region, RegionLevel, Unit, UnitKind, User


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"8{n:05d}")
    name = factory.Sequence(lambda n: f"区划{n}")
    level = RegionLevel.PROVINCE
    parent = None


class UnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Unit

    name = factory.Sequence(lambda n: f"单位{n}")
    kind = UnitKind.DEPARTMENT
    region = factory.SubFactory(RegionFactory)


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    name = factory.Sequence(lambda n: f"居民{n}")
    phone = factory.Sequence(lambda n: f"139{n:08d}")
    region = factory.SubFactory(RegionFactory)


class HouseholdFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Household

    number = factory.Sequence(lambda n: f"H{n:05d}")
    region = factory.SubFactory(RegionFactory)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    phone = factory.Sequence(lambda n: f"138{n:08d}")
    password = factory.PostGenerationMethodCall("set_password", "cocreate-test-pw")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    region = factory.SubFactory(RegionFactory)
    role = "resident"
