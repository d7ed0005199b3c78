"""Deterministic English sentences from a seed: templates over built-in word lists.

Varied enough for a TTS speech set (several hundred words, statements, questions, lists and numbers) and
plain enough that any ASR system can transcribe them, so generated speech can be scored by WER.
"""
from __future__ import annotations

import random

NAMES = "Anna Peter Maria James Laura Thomas Sarah David Emma Robert Clara Henry Alice Martin Grace Oliver Nora Samuel Helen Victor".split()
ANIMALS = "dog cat horse rabbit fox owl goat sheep mouse bird duck bear wolf deer frog tiger whale eagle".split()
THINGS = (
    "book lamp chair table window door garden river bridge road letter picture basket bottle candle clock "
    "coat hat boat train car bicycle kettle piano violin map ticket ladder blanket mirror pencil bucket "
    "house tower market village station harbour forest mountain valley island field kitchen library museum"
).split()
FOODS = "bread cheese apples soup tea coffee rice honey milk oranges cake fish potatoes carrots beans pears".split()
ADJECTIVES = (
    "small large old new red green blue yellow quiet noisy bright dark warm cold heavy light tall short "
    "happy tired clever gentle strange lovely narrow wide empty busy clean dusty wooden golden silver soft"
).split()
PLACES = (
    "the station|the old bridge|the village square|the garden|the harbour|the library|the market|the hill|"
    "the river bank|the school|the kitchen|the museum|the forest path|the small cafe|the post office|the farm"
).split("|")
TIMES = (
    "this morning|last night|on Monday|every Sunday|after lunch|before dinner|in the spring|at noon|"
    "early in the evening|yesterday afternoon|next week|once a year|at half past seven|during the storm"
).split("|")
VERBS_PAST = (
    "found|carried|painted|opened|closed|cleaned|moved|fixed|sold|bought|lost|washed|watched|borrowed|"
    "dropped|packed|noticed|described|wrapped|counted"
).split("|")
VERBS_BASE = (
    "find|carry|paint|open|close|clean|move|fix|sell|buy|wash|watch|borrow|pack|describe|wrap|count|bring"
).split("|")
MOTIONS = "walked|ran|drove|sailed|hurried|wandered|cycled|climbed|travelled|returned".split("|")
WEATHER = (
    "The rain fell softly on the roof|A cold wind blew across the fields|The sun rose slowly over the hills|"
    "Thick fog covered the whole valley|Snow began to fall in the late afternoon|The sky turned pink at sunset"
).split("|")
FEELINGS = "glad|surprised|worried|proud|sorry|certain|curious|pleased|afraid|sure".split("|")
NUMBERS = (
    "two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|a hundred"
).split("|")
CONNECTIVES = "because|although|while|after|before|when|until|since".split("|")


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _noun(rng: random.Random) -> str:
    pool = rng.choice((THINGS, THINGS, ANIMALS))
    return rng.choice(pool)


def _phrase(rng: random.Random) -> str:
    """A noun phrase such as "the old wooden boat"."""
    if rng.random() < 0.5:
        return f"the {rng.choice(ADJECTIVES)} {_noun(rng)}"
    return f"the {_noun(rng)}"


def _clause(rng: random.Random) -> str:
    name = rng.choice(NAMES)
    pick = rng.randrange(8)
    if pick == 0:
        return f"{name} {rng.choice(VERBS_PAST)} {_phrase(rng)} near {rng.choice(PLACES)}"
    if pick == 1:
        return f"{name} {rng.choice(MOTIONS)} to {rng.choice(PLACES)} {rng.choice(TIMES)}"
    if pick == 2:
        return f"{_phrase(rng)} was {rng.choice(ADJECTIVES)} and {rng.choice(ADJECTIVES)}"
    if pick == 3:
        return f"{name} bought {rng.choice(NUMBERS)} {rng.choice(FOODS)} at {rng.choice(PLACES)}"
    if pick == 4:
        return f"{name} was {rng.choice(FEELINGS)} that {rng.choice(NAMES)} {rng.choice(VERBS_PAST)} {_phrase(rng)}"
    if pick == 5:
        return f"{rng.choice(WEATHER).lower()}"
    if pick == 6:
        return f"there were {rng.choice(NUMBERS)} {rng.choice(ANIMALS)}s in {rng.choice(PLACES)}"
    return f"{name} left {_a(rng.choice(ADJECTIVES))} {rng.choice(THINGS)} on the table {rng.choice(TIMES)}"


def make_sentence(rng: random.Random) -> str:
    """One sentence (statement, question, compound or list), capitalised and punctuated."""
    kind = rng.random()
    if kind < 0.4:
        text = _clause(rng) + "."
    elif kind < 0.65:
        text = f"{_clause(rng)} {rng.choice(CONNECTIVES)} {_clause(rng)}."
    elif kind < 0.8:
        verb = rng.choice(VERBS_BASE)
        text = rng.choice(
            (
                f"did {rng.choice(NAMES)} {verb} {_phrase(rng)} {rng.choice(TIMES)}?",
                f"where did {rng.choice(NAMES)} put {_phrase(rng)}?",
                f"why was {_phrase(rng)} left near {rng.choice(PLACES)}?",
                f"could you {verb} {_phrase(rng)} for me, please?",
            )
        )
    elif kind < 0.9:
        foods = rng.sample(FOODS, 3)
        text = f"{rng.choice(NAMES)} asked for {foods[0]}, {foods[1]} and {foods[2]} {rng.choice(TIMES)}."
    else:
        text = f"{rng.choice(WEATHER)}, so {_clause(rng)}."
    return text[0].upper() + text[1:]


def make_sentences(count: int, seed: int = 0) -> list[str]:
    """``count`` sentences; the same ``seed`` always gives the same list (and a longer list extends a shorter one)."""
    rng = random.Random(seed)
    return [make_sentence(rng) for _ in range(count)]


def sentence_at(index: int, seed: int = 0) -> str:
    """Sentence number ``index`` of the stream for ``seed``, computed on its own (no need to generate the rest)."""
    return make_sentence(random.Random(f"{seed}:{index}"))
