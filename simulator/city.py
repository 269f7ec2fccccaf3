"""A synthetic city: repair centers, their crews (in the domain's departments and trades) and
the crews' vehicles, generated from a seed, as the reference-data bodies dispatch accepts."""

import random
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]

DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("City supply station", "low_voltage"),
    ("Suburban supply station", "10kv"),
    ("Community service station", "service_drop"),
    ("Emergency repair team", "10kv"),
)
"""Who covers which faults (docs/domain.md): a department and its trade."""

FAULTS: dict[str, tuple[str, str, float]] = {
    "low_voltage": ("outage", "whole building dark", 0.4),
    "10kv": ("outage", "feeder tripped, several streets dark", 10.0),
    "service_drop": ("service_drop", "service drop down in the yard", 0.4),
}
"""A fault of each trade's business: category, description, voltage (kV)."""

DISTRICTS = ("dongcheng", "xicheng", "chaoyang", "haidian", "fengtai", "shijingshan")
CENTER = (39.9, 116.4)


@dataclass(frozen=True)
class RepairCenter:
    repair_center_id: str
    name: str
    phone: str
    district: str

    def body(self) -> Json:
        """The body of ``PUT /v1/repair-centers/{id}``."""
        return {"name": self.name, "phone": self.phone}


@dataclass(frozen=True)
class CrewSpec:
    crew_id: str
    repair_center_id: str
    department: str
    trade: str
    co_located: bool
    leaders: tuple[tuple[str, str], tuple[str, str]]

    def body(self) -> Json:
        """The body of ``PUT /v1/crews/{id}``."""
        return {
            "repair_center_id": self.repair_center_id,
            "department": self.department,
            "trade": self.trade,
            "co_located": self.co_located,
            "leaders": [{"name": n, "phone": p} for n, p in self.leaders],
        }


@dataclass(frozen=True)
class VehicleSpec:
    vehicle_id: str
    crew_id: str
    repair_center_id: str
    plate: str

    def body(self) -> Json:
        """The body of ``PUT /v1/vehicles/{id}``."""
        return {"crew_id": self.crew_id, "plate": self.plate}


@dataclass(frozen=True)
class City:
    seed: int
    tag: str
    repair_centers: tuple[RepairCenter, ...]
    crews: tuple[CrewSpec, ...]
    vehicles: tuple[VehicleSpec, ...]

    def crew(self, crew_id: str) -> CrewSpec:
        return next(c for c in self.crews if c.crew_id == crew_id)

    def center_of_vehicle(self, vehicle_id: str) -> str:
        return next(v.repair_center_id for v in self.vehicles if v.vehicle_id == vehicle_id)


_SURNAMES = ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu")


def _phone(rng: random.Random) -> str:
    return f"+86 10 {rng.randrange(6000, 9000)} {rng.randrange(10000):04d}"


def make_city(
    seed: int,
    *,
    centers: int = 4,
    crews_per_center: int = 4,
    vehicles_per_crew: int = 1,
    tag: str | None = None,
) -> City:
    """The city of ``seed``: the same arguments always give the same city. Ids carry ``tag``
    (default ``s<seed>``) so that two cities can live in one system side by side."""
    rng = random.Random(f"city:{seed}")
    tag = tag or f"s{seed}"
    rcs: list[RepairCenter] = []
    crews: list[CrewSpec] = []
    vehicles: list[VehicleSpec] = []
    for i in range(centers):
        district = DISTRICTS[i % len(DISTRICTS)]
        rc = RepairCenter(
            f"sim-{tag}-rc{i:03d}", f"{district.title()} repair center {i}", _phone(rng), district
        )
        rcs.append(rc)
        for j in range(crews_per_center):
            department, trade = DEPARTMENTS[j % len(DEPARTMENTS)]
            leaders = tuple((rng.choice(_SURNAMES), _phone(rng)) for _ in range(2))
            crew = CrewSpec(
                f"sim-{tag}-rc{i:03d}-crew{j:02d}",
                rc.repair_center_id,
                department,
                trade,
                co_located=rng.random() < 0.5,
                leaders=(leaders[0], leaders[1]),
            )
            crews.append(crew)
            for k in range(vehicles_per_crew):
                vehicles.append(
                    VehicleSpec(
                        f"sim-{tag}-rc{i:03d}-crew{j:02d}-v{k}",
                        crew.crew_id,
                        rc.repair_center_id,
                        f"B{rng.randrange(10000, 99999)}",
                    )
                )
    return City(seed, tag, tuple(rcs), tuple(crews), tuple(vehicles))
