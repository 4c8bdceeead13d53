"""The bytes of every generated dataset are pinned: the same on every CPU (issue 18).

Up to ``GENERATOR_VERSION`` 1 the generator's float arithmetic went through OpenBLAS and a
torch kernel, which pick their kernels by CPU, and a fresh clone on another CPU made other
data. Since version 2 the arithmetic that decides a byte is elementwise or an integer /
float64 sum (``envs.engine.data.resize``); these hashes were checked by hand to be equal
under ``OPENBLAS_CORETYPE`` Prescott, Sandybridge, Haswell and SkylakeX, one and two BLAS
threads, ``ATEN_CPU_CAPABILITY`` default and avx2, and numpy's SIMD dispatch turned off
(``python -m benchmarks.data_fingerprints --task-sets`` under each). A failure prints the
machine's arithmetic, so a mismatch elsewhere can be traced.

If the generator's output has to change, bump ``GENERATOR_VERSION`` (old caches are then
never read as new data) and re-pin from ``python -m benchmarks.data_fingerprints --task-sets``.
"""
from __future__ import annotations

import pytest

import envs

from benchmarks.quality.data_fingerprints import fingerprint, generated
from benchmarks.core.machine import numerics_lines
from envs.engine.data.digits import GENERATOR_VERSION

PINNED_VERSION = 2
PINNED_SHA256 = {
    "mlic-digits": "c5f4ca3671707d8532b61fe60c8aaa085a57e6a7bfe4119efc3fe171a34e536c",
    "mlic-mnist": "d63bd89bf17d4cb3aef7006daed69a52db961b3bed932ebc6a651ffc8ed08b82",
    "mlic-shapes": "110a171242214c4e85b8bbd1e1f7ed8f9ec18d9e94d769121be98a1c1d9cfeaa",
    "digits-16px-96img-3x1ep-153ea636": "9812a3ac45ad17472730d01515887f70122815f250f8f6cbf806231645846e89",
    "digits-16px-96img-3x1ep-aab8d6f3": "0e31c43b8edf29af5d47dd17d79ba06ae0ab57379bc38db6dc1bac8d50215c45",
    "digits-16px-96img-3x1ep-ed431093": "c3a3a0c03a93781c2c05698ccc5cf9bbd787654ccf17def5ad9649688f7b71c1",
    "digits-16px-96img-3x1ep-9d057148": "55b107180050c75d8b2d0b0d67fa9a97e90365108fc688d20ca507c59bd4c86f",
    "digits-16px-96img-3x1ep-b4eff559": "7e4b40853590a71343f12e32b511be5fd0f75a2b79d820ac195478742d408158",
    "digits-16px-96img-3x1ep-6b00b925": "4c43e752ced010ad1d024817f83a1fd08e98b0b1cbb8b9a228f36135e72ac8c0",
    "digits-16px-96img-3x1ep-94f2e434": "24397414b821c78b8b074d33b77c5def82589aa6899900113ed878733ba1832b",
    "digits-16px-96img-3x1ep-c5c1d7ab": "e25a46cb5943a371ef438ec086a75c6d9ff8d58a3566806c1c4c1553ec001665",
    "shapes-16px-96img-3x1ep-f574b72b": "027dacfb21d89f23de2d83cb84425f27213c48ce5f4680e6c82f6590b994ba96",
    "shapes-16px-96img-3x1ep-5d50fd16": "dd054d63a0d0c16be1642da029e280424695143e3b35b471e3b4d87ed7bd1c20",
    "shapes-16px-96img-3x1ep-7594e8d0": "934e68f136422718202ddac71ca19ff0b29259f6f8c3e50f7cebc62535c309a5",
    "digits-16px-96img-3x1ep-e4d61676": "0ddb39fe65ba8c4985acf280f33235d21609c9f4a88e6e250040a5bcb9717bd6",
    "digits-16px-96img-3x1ep-b4d25fe8": "8e8d95f6c6b03b626db6c34532955fc0f20ecae78ccb32401a721f6023e96471",
    "shapes-16px-96img-3x1ep-e773865d": "0c4b91ba4e268876c423390cd01924b4bc05315e5d1aa78ef241d95d8b9cc9e8",
    "shapes-16px-96img-3x1ep-5f0e0732": "0d80188f89c0046088246903067ab7bf4c232493a24618ea1e625a5ccea9689b",
    "digits-24px-1200img-8x1ep-e9e4fa63": "ff1c8d4b48d43ea9aa7da73cff4acf8da080ff71c9d3131a8ba845f3ced60bc4",
    "digits-24px-2000img-5x1ep-203158d8": "d713d469f8559d429231bbe4daf0494fd75331aa3493f20745f8153b28ea8453",
    "digits-24px-1200img-8x1ep-f1d86641": "b8824a501eac616c070559945169951407aeb019b6a10599a49bf0dc20663f55",
    "digits-24px-1000img-10x1ep-4d715560": "a88a5cf030b1be4fd823af86e729bf07b126491efd3f8f2bac5d078fcd3a77cb",
    "digits-24px-1200img-8x1ep-8b099591": "35cf130e42cb12c0c92359d924f02d1948fd1dc4ba65cf4d4eb08d0600b0f8f1",
    "digits-24px-1200img-8x1ep-e56448c4": "502beb076f2faa41b5a885f27c48d6a889f31af529d0b8dc3b4447f42fb8236f",
    "digits-24px-600img-16x1ep-fcac4e96": "763e82228346a81cb0d46a5978c6baecd1567e268c5935e33535eb33a411b135",
    "digits-24px-1200img-8x1ep-18877d9b": "f84f079be29850ce79e5fae706efd973c05c0934fd6545db9ceffe917e9d9f9c",
    "shapes-24px-1200img-8x1ep-32e9e715": "08c1f04f497bef45138f94c56eb60315aaf5073501801b811c8f2aed32d934e0",
    "shapes-24px-500img-20x1ep-828c039a": "f61c0c4daf6bad0e4080c2c1c955c7e2f40f451416bbe52a9950c6de783e8d60",
    "shapes-24px-800img-12x1ep-8b50274a": "47bcb82ffc565a793472a3374b0150cc9831f7b582fdd1df5ce773b51fdba5bd",
    "shapes-24px-1000img-10x1ep-e7e86a8d": "878a10a3ef9a88d1723622786f3ed664f70a51d11000e51d8b334c37ec16397b",
    "digits-24px-1000img-10x1ep-e47f02ad": "a6c9ba8d3f38e31a7efa30f656422305aac23ca0e011100c3d580921c9d5ab24",
    "digits-24px-1200img-8x1ep-b6ec054b": "7a90d6f8cc8b5caaf22706a95f11d9168166b394d6e34a3fe2529cd59135dd2a",
    "shapes-24px-700img-14x1ep-06355842": "fc81c9937a3b4f39407771a2a52085d74ddfbb3ca2d7dd10488c8b4310602fff",
    "shapes-24px-1500img-7x1ep-d0f1f826": "1fe2ce3c47daba54d732e8789a2fd6e530114a88acc19af4bf59249a69c2eafe",
    "digits-24px-400img-20x1ep-small_cnn_half-ca6556d7": "b9955cf2c3b70c7cd9e02f895c5f0c1032a8f3e66d2be5fd8dbaed99c6016411",
    "shapes-24px-400img-20x1ep-small_cnn-55febe27": "e4ab0664c286e6043e7a8154088a676566dcc223ef75820d41caf77f0be77dac",
    "digits-24px-1200img-8x1ep-small_cnn_half-4b0aea02": "b74ad68ff8073db1baf1fc5400d6283784baee80495afb41bac407b6d81e333f",
    "shapes-24px-1000img-8x1ep-gn_resnet-e0f5bd82": "8c0e9b9f241e1b0f277d6e1c8f77a87256f52d5439c6d255fdc3f68b529f584c",
    "digits-24px-1000img-8x1ep-small_cnn-d809ef4b": "8b1a39fe68699772f39c9b980174582e292f2a5dbf26f33ae7f962eeb4455b78",
    "digits-24px-1200img-8x1ep-patch_mlp-4386e1f3": "620eb9232f82d649a99d4883da0da5ee69abb1640db9af0842fc754a72a5b6cc",
    "digits-24px-2400img-3x1ep-small_cnn-1d2c715a": "20c5ddd8fbe1ed3d5e88dfdc77592551a34a6bbdbffe408b2826f45852777074",
    "shapes-24px-2000img-3x1ep-gn_resnet-c1c8c963": "cd64b4e90eff763191b02d41fcf6f01b9e80e98cf8266adf65fcbb8ae7f80c29",
    "digits-24px-1200img-8x1ep-patch_mlp-262cf7a2": "04f6de47a95799f9136a8194adbed9e74a110b592b54db233a2147151e2621a3",
    "digits-24px-1000img-8x1ep-gn_resnet-d1a1807b": "c37cdb311002c9b6ae534b0ad57a64c86fa29e3b17d62a972441b0819733b971",
    "digits-24px-1000img-10x1ep-small_cnn-drift0.3@0.5-bb5c3083": "8064406d4f40531e565d79d30f2f12851237b9064c8b4857bf2c1ac8f8d4db6d",
    "shapes-24px-800img-12x1ep-small_cnn_half-drift0.25@0.6-5c29a8b3": "ec4cbe0b7bbc5f8d82d09b4bfa1ce4851dbccfe959fa9c6233b7d2fb92b1e193",
    "digits-24px-1200img-10x1ep-small_cnn-drift0.3@0.5-76ffb4a2": "fa5bc9c2d924a59ee158292a501134a179d4bf8a95c532e1327b4402f121cfd4",
    "shapes-24px-1000img-10x1ep-small_cnn-drift0.35@0.4-ad30ca2e": "bc2066be454a526bf669d3b440962487de6355810f4ea0c9ce757b137c8ae25b",
    "digits-24px-600img-16x1ep-gn_resnet-drift0.4@0.6-8d2d8ab2": "9466e05f90cc204a346473609fda82052b7c94403965d94977614d5f4b410133",
    "shapes-24px-800img-12x1ep-patch_mlp-639b74b8": "be7c6cfa73573f8500090fcc4a84cdac75b39df3078b43d04cbd3feffb763ad4",
    "shapes-24px-1600img-6x1ep-small_cnn_half-d70cfb93": "4dc88dca64fe7491866380efaa1f507aeccc261abfe41eb7edad821620373a27",
    "digits-24px-600img-14x1ep-small_cnn_half-e519c30b": "0fa6795ee1ffc4e3306eca1f07d24a84fa67c03d8a30f363e862d20d40c7c075",
    "shapes-24px-1000img-8x1ep-gn_resnet-83a8e8a9": "aeb51ad051bfc565d698c2b7801ba443189e47efd6b076b35d423bcee6cdb84e",
    "digits-24px-1600img-4x1ep-patch_mlp-6c152712": "895cc25ff8979c4820fb169e1011cd7a3f95dc36f87548d865bc539616e91502",
    "shapes-24px-500img-16x1ep-small_cnn-6562faf0": "eb0a0b704960f61339835aaa5aac8f410fc05f85e2c1453fea26f056489b9366",
    "digits-32px-2000img-25x1ep-small_cnn-a7137b1a": "6e66802e8a56033cc8ba95974ed9090e16ebaa007dcf2d7c851805cc54e6e8d4",
    "digits-32px-4000img-12x1ep-small_cnn-76245f16": "0c7a6673cdfa74363d3fb4a2f187e7c58b19d814ccfdca271ef4c1c14b40bb7e",
    "digits-32px-500img-25x2ep-small_cnn_half-f555dc9e": "e456b9b0c715fe032eed794190ca7c7fe4eabaa840fc3caaeaeb2e217ed26bfd",
    "shapes-32px-600img-15x3ep-small_cnn_half-4791806a": "26f94d25c8d199450eda01e420dbb1c3a81d2a612ae79bdcc5310390d7612e61",
    "shapes-32px-1500img-15x2ep-small_cnn-467b77a1": "f7037fe038c3c3e72fdaf3d223e5c8c28b8ed577d8a4b3d6c8ad8c07d0176108",
    "digits-32px-1200img-15x2ep-gn_resnet-324eb8cb": "fb8ccbf348049accb99e7513ce2cd00439ea4af0b2d150fe5804dafc87dc222f",
    "shapes-32px-1000img-20x2ep-gn_resnet-bea4af61": "d8374291b469dc4cc7106cb29f105f469448183a2343543979c1f736c8eae389",
    "digits-32px-2500img-16x1ep-patch_mlp-a11321c4": "0152754cd9845e786a66a7bec21803667c620903d136afb928b08535bb23087c",
    "digits-32px-800img-16x3ep-small_cnn-6571c4b6": "f41c0fd28fc7053a3b302ccd05fce09506f305462bc45c02180be7ce471e2cb4",
    "digits-32px-3000img-10x2ep-small_cnn_half-464a1fa1": "c423a9eb0d1eddf44172eb050c47613db6c744195f7f8079805355a38f2ab92c",
    "digits-32px-1000img-18x2ep-small_cnn_half-6bcd5877": "52e3e34abd56306615f2eecee6a62e9da0d7532d78914b21b8638635ea476a37",
    "shapes-32px-2000img-20x1ep-gn_resnet-6ece2274": "7f08150bc2a94fb5dd683d752500053d153b509485d0c33c3310da25770822cc",
    "digits-32px-600img-16x3ep-patch_mlp-db19a594": "43f8666f58ce411b17b859da3aa1f567aee4f59be66327a411dce0895706c549",
    "digits-32px-3000img-15x1ep-small_cnn-5ccedb10": "398d4cf202ae087ed16097aec6d09f8a167713f561454d81780b755e68d1216b",
    "digits-32px-1500img-20x2ep-small_cnn-0d2819c9": "99f2fdfd1d916443b9e23ffaf4154921c807f129009b23990de949c57f736f24",
    "shapes-32px-1500img-15x2ep-gn_resnet-766a04f8": "1e74e7f59dd24717a54e5900f7accb65378832cfaf42e8d602bfa6deaa76a6a8",
    "shapes-32px-2000img-16x2ep-patch_mlp-d4feaff1": "acf251c83b46aacf49b6e184dbb8dc226ff73fe09b6d7535aa4b79a6fc388338",
    "digits-32px-2500img-12x2ep-small_cnn-1d64e5b3": "bca4cc8cf320d3ef71171e8c02e78ea282bc261976411b6d6fb62d41c328ca27",
    "digits-32px-2000img-18x2ep-small_cnn_half-91ac1899": "27d8799710b32c288d84a0ebf283bb993ca19f028d1990d0967e36f3df429c06",
    "shapes-32px-1200img-16x3ep-patch_mlp-8f39ee1c": "0c4a8d57740d5c345af56842a9647f017a37efefafe212538ada487633aa3caf",
}
"""SHA-256 of train, val and test images and labels: each env id's default data, then every
task of every task set, as ``benchmarks.data_fingerprints`` prints them (first 16 digits)."""
MAKERS = generated()


def test_every_generated_dataset_is_pinned():
    assert GENERATOR_VERSION == PINNED_VERSION, "re-pin PINNED_SHA256 for the new version"
    assert sorted(MAKERS) == sorted(PINNED_SHA256), "a task set changed: re-pin its tasks"


FAST_TASKS = {ts.name: (ts.train + ts.heldout)[0].name
              for ts in map(envs.task_set, envs.list_task_sets())}
"""The one task of each task set pinned in the fast suite, its first; the others (the same
generator at other settings, about 0.4 to 2 s each) are behind the ``slow`` marker. The three
env ids' defaults, 4,000 images each, always run."""


def _marks(name: str) -> list[pytest.MarkDecorator]:
    is_task = any(name in {t.name for t in ts.train + ts.heldout}
                  for ts in map(envs.task_set, envs.list_task_sets()))
    return [pytest.mark.slow] if is_task and name not in FAST_TASKS.values() else []


@pytest.mark.parametrize("name", [pytest.param(n, marks=_marks(n)) for n in PINNED_SHA256])
def test_generated_bytes_are_the_pinned_ones(name):
    got = fingerprint(MAKERS[name]())
    assert got == PINNED_SHA256[name], (
        f"{name} generated other bytes on this machine ({got[:16]}, pinned "
        f"{PINNED_SHA256[name][:16]}). This machine's arithmetic:\n  "
        + "\n  ".join(numerics_lines()))
