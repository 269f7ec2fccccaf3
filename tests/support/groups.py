"""A Kafka consumer group as the broker describes it: its state and each member's partitions."""

import asyncio
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment


@dataclass(frozen=True)
class Group:
    state: str
    members: dict[str, int]
    """Partitions assigned to each member (by member id)."""

    def shared_by(self, members: int) -> bool:
        """Stable, with exactly ``members`` members, each holding at least one partition."""
        return (
            self.state == "Stable"
            and len(self.members) == members
            and all(count > 0 for count in self.members.values())
        )


async def _describe(bootstrap: str, group_id: str) -> Group:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group_id])
    finally:
        await admin.close()
    [group] = response.to_object()["groups"]
    members = {}
    for member in group["members"]:
        raw = member["member_assignment"]
        assigned = ConsumerProtocolMemberAssignment.decode(raw).assignment if raw else []
        members[member["member_id"]] = sum(len(partitions) for _, partitions in assigned)
    return Group(group["state"], members)


def describe_group(bootstrap: str, group_id: str) -> Group:
    """The group ``group_id`` (the full, prefixed id) as the broker describes it now."""
    return asyncio.run(_describe(bootstrap, group_id))
