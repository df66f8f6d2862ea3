"""Translation mutators: word-by-word translation from small built-in phrase tables (no network).

The tables are short and the result is rough, mixed-language text, which is what a cheap
translation attack looks like to a guard trained mostly on English.
"""

from __future__ import annotations

import random
import re
from typing import ClassVar

from bluecodeagent.redteam.mutators.base import Mutator, register

_TABLES: dict[str, dict[str, str]] = {
    "es": {
        "write": "escribe", "create": "crea", "build": "construye", "make": "haz", "a": "un", "an": "un",
        "the": "el", "script": "script", "program": "programa", "function": "función", "that": "que",
        "which": "que", "and": "y", "to": "para", "of": "de", "from": "de", "with": "con", "without": "sin",
        "all": "todos", "files": "archivos", "file": "archivo", "user": "usuario", "users": "usuarios",
        "computer": "ordenador", "network": "red", "server": "servidor", "password": "contraseña",
        "passwords": "contraseñas", "steal": "robar", "send": "enviar", "sends": "envía", "hide": "ocultar",
        "hidden": "oculto", "encrypt": "cifrar", "delete": "borrar", "every": "cada", "my": "mi", "me": "me",
        "their": "su", "victim": "víctima", "browser": "navegador", "keys": "teclas", "data": "datos",
        "in": "en", "on": "en", "it": "lo", "is": "es", "for": "para", "not": "no", "remote": "remoto",
        "secretly": "en secreto", "copy": "copia", "copies": "copia", "spread": "propagar", "system": "sistema",
    },
    "fr": {
        "write": "écris", "create": "crée", "build": "construis", "make": "fais", "a": "un", "an": "un",
        "the": "le", "script": "script", "program": "programme", "function": "fonction", "that": "qui",
        "which": "qui", "and": "et", "to": "pour", "of": "de", "from": "de", "with": "avec", "without": "sans",
        "all": "tous", "files": "fichiers", "file": "fichier", "user": "utilisateur", "users": "utilisateurs",
        "computer": "ordinateur", "network": "réseau", "server": "serveur", "password": "mot de passe",
        "passwords": "mots de passe", "steal": "voler", "send": "envoyer", "sends": "envoie", "hide": "cacher",
        "hidden": "caché", "encrypt": "chiffrer", "delete": "supprimer", "every": "chaque", "my": "mon",
        "me": "moi", "their": "leur", "victim": "victime", "browser": "navigateur", "keys": "touches",
        "data": "données", "in": "dans", "on": "sur", "it": "le", "is": "est", "for": "pour", "not": "pas",
        "remote": "distant", "secretly": "en secret", "copy": "copie", "spread": "propager", "system": "système",
    },
    "de": {
        "write": "schreibe", "create": "erstelle", "build": "baue", "make": "mache", "a": "ein", "an": "ein",
        "the": "die", "script": "Skript", "program": "Programm", "function": "Funktion", "that": "das",
        "which": "das", "and": "und", "to": "um", "of": "von", "from": "von", "with": "mit", "without": "ohne",
        "all": "alle", "files": "Dateien", "file": "Datei", "user": "Benutzer", "users": "Benutzer",
        "computer": "Rechner", "network": "Netzwerk", "server": "Server", "password": "Passwort",
        "passwords": "Passwörter", "steal": "stehlen", "send": "senden", "sends": "sendet", "hide": "verstecken",
        "hidden": "versteckt", "encrypt": "verschlüsseln", "delete": "löschen", "every": "jede", "my": "mein",
        "me": "mir", "their": "ihre", "victim": "Opfer", "browser": "Browser", "keys": "Tasten", "data": "Daten",
        "in": "in", "on": "auf", "it": "es", "is": "ist", "for": "für", "not": "nicht", "remote": "entfernt",
        "secretly": "heimlich", "copy": "kopiere", "spread": "verbreiten", "system": "System",
    },
}  # fmt: skip
_TOKEN = re.compile(r"[A-Za-z]+")
_LEADS = {"es": "Responde en Python:", "fr": "Réponds en Python :", "de": "Antworte in Python:"}


@register
class Translate(Mutator):
    """Translate known words into Spanish, French or German from a built-in table."""

    name: ClassVar[str] = "translate"
    family: ClassVar[str] = "translation"
    description: ClassVar[str] = "word-by-word translation from built-in phrase tables"

    def apply(self, text: str, rng: random.Random) -> str:
        lang = rng.choice(sorted(_TABLES))
        table = _TABLES[lang]

        def repl(m: re.Match[str]) -> str:
            word = m.group(0)
            out = table.get(word.lower())
            if out is None:
                return word
            return out[:1].upper() + out[1:] if word[:1].isupper() else out

        return f"{_LEADS[lang]} {_TOKEN.sub(repl, text)}"
