"""The espeak-ng voice that speaks a language's synthetic corpus."""

import shutil
import subprocess

# Common Voice codes whose espeak-ng voice has another name.
VOICE_ALIASES = {"zh-TW": "cmn", "zh-CN": "cmn", "zh-HK": "yue", "kmr": "ku", "nan-tw": "nan"}


def espeak_voices():
    """{voice identifier: language name} of the installed espeak-ng ({} without espeak-ng)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return {}
    out = subprocess.run([exe, "--voices"], capture_output=True, text=True, check=False).stdout
    voices = {}
    for line in out.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 4:
            voices.setdefault(fields[1], fields[3].replace("_", " "))
    return voices


def default_voice(code, voices):
    """The espeak-ng voice named like the CV code: "ca" -> "ca", "sv-SE" -> "sv", "zh-TW" -> "cmn"."""
    base = code.split("-")[0].lower()
    for candidate in (code, code.lower(), f"{base}-{code.split('-')[-1].lower()}", base, VOICE_ALIASES.get(code)):
        if candidate in voices:
            return candidate
    return None
