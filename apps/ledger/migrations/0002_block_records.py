"""Tree nodes move into the record of the block whose append created them (see Block), and the
log foreign keys lose the indexes that their composite keys already provide."""

from itertools import groupby

import django.db.models.deletion
from django.db import migrations, models

from apps.ledger.hypercore.tree import NODE_RECORD, block_record_nodes, node_location


def nodes_into_records(apps, schema_editor):
    Block = apps.get_model("ledger", "Block")
    TreeNode = apps.get_model("ledger", "TreeNode")
    for log_id in Block.objects.values_list("log_id", flat=True).distinct():
        located = sorted(
            (*node_location(index), size, bytes(hash_))
            for index, size, hash_ in TreeNode.objects.filter(log_id=log_id)
            .values_list("index", "size", "hash")
            .iterator()
        )
        for block_index, nodes in groupby(located, key=lambda node: node[0]):
            record = b"".join(NODE_RECORD.pack(size, hash_) for _, _, size, hash_ in nodes)
            Block.objects.filter(log_id=log_id, index=block_index).update(nodes=record)


def records_into_nodes(apps, schema_editor):
    Block = apps.get_model("ledger", "Block")
    TreeNode = apps.get_model("ledger", "TreeNode")
    for log_id, index, record in Block.objects.values_list("log_id", "index", "nodes").iterator():
        TreeNode.objects.bulk_create(
            TreeNode(log_id=log_id, index=node.index, size=node.size, hash=node.hash)
            for node in block_record_nodes(index, bytes(record))
        )


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="block", name="nodes", field=models.BinaryField(default=b""),
            preserve_default=False,
        ),
        migrations.RunPython(nodes_into_records, records_into_nodes),
        migrations.DeleteModel(name="TreeNode"),
        migrations.AlterField(
            model_name="block",
            name="log",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="blocks",
                to="ledger.log",
            ),
        ),
        migrations.AlterField(
            model_name="signedhead",
            name="log",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="heads",
                to="ledger.log",
            ),
        ),
    ]
