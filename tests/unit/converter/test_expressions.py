"""ClassAd expressions of the raw ad, evaluated the same way in every process."""

from __future__ import annotations

import subprocess
import sys


def test_evaluation_does_not_depend_on_what_else_the_process_imported():
    """A fresh interpreter that imports only the converter evaluates like the reference (htcondor loaded):
    stringListMember on an undefined TARGET attribute is false, not error, so Requirements is kept."""
    program = (
        "from services.converter.expressions import JobAd\n"
        "ad = JobAd({'DESIRED_Sites': 'T2_CH_CERN', 'Requirements': "
        "'/Expr(stringListMember(TARGET.GLIDEIN_CMSSite,DESIRED_Sites) && (TARGET.Arch == \"X86_64\"))/'}, 0)\n"
        "print(ad.evaluate('Requirements'))\n"
    )
    fresh = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert fresh.stdout.strip() == "False"
