"""``data/pairs.py`` stands alone: the dataset readers that yield ``ViewPair`` never load the scene generator."""

import subprocess
import sys


def test_dataset_readers_do_not_import_the_scene_generator():
    """Reading CO3D, RealEstate10K, DTU or Mip-NeRF 360 needs ``ViewPair`` only, never the procedural scenes."""
    code = (
        "import sys\n"
        "import zeronvs_core.data.co3d, zeronvs_core.data.realestate10k, zeronvs_core.data.dtu\n"
        "import zeronvs_core.data.mipnerf360\n"
        "print(sorted(m for m in sys.modules if m.endswith(('.synthetic', '.raycast', '.synthetic_pairs'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
