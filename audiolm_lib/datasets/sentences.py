"""Deterministic sentences from a seed: English templates over built-in word lists, and short native sentences in
the other languages of the voice catalogue (Italian, Catalan, Finnish, Czech).

Varied enough for a TTS speech set (about a thousand words; statements, questions, requests, exclamations,
lists, numbers, times and dates, short narratives) and plain enough that any ASR system can transcribe them, so
generated speech can be scored by WER.
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
MORE_NAMES = (
    "Lucy Daniel Sophie Edward Hannah George Rosa Frank Julia Arthur Irene Walter Megan Simon Ruth Leo Amelia "
    "Isaac Bella Hugo Nadia Felix Olga Kevin Zoe Carlos Priya Ahmed Yuki Ingrid"
).split()
JOBS = (
    "teacher|doctor|baker|farmer|driver|nurse|painter|pilot|sailor|gardener|carpenter|singer|writer|"
    "student|engineer|librarian|shopkeeper|fisherman|cook|postman"
).split("|")
TOOLS = "hammer|brush|spoon|knife|rope|shovel|needle|torch|saw|key|umbrella|camera|radio|phone|compass".split("|")
COLOURS = "red|green|blue|yellow|white|black|brown|grey|orange|purple".split("|")
DAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday".split("|")
MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December".split("|")
ADVERBS = "slowly|quickly|carefully|quietly|happily|suddenly|politely|gently|loudly|patiently".split("|")
VERBS_NOW = (
    "is reading|is cooking|is singing|is painting|is writing a letter|is waiting for the bus|is cleaning the "
    "windows|is looking for a key|is planting flowers|is learning to swim|is fixing the fence|is feeding the birds"
).split("|")
ACTIVITIES = (
    "go for a walk|play the piano|visit the museum|cook some soup|read a story|call a friend|watch the boats|"
    "paint the fence|plant some trees|bake a cake|learn a new song|clean the kitchen|catch the early train"
).split("|")
EXCLAIMS = "What a lovely day|How strange|Look at that|Well done|Oh dear|What a surprise|How wonderful".split("|")


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


TOWNS = "Bristol|York|Leeds|Oxford|Dover|Bath|Glasgow|Cardiff|Boston|Denver|Dublin|Chester".split("|")
CONTAINERS = "bags|boxes|jars|baskets|bottles|plates|cups|bowls".split("|")
IRREGULAR_PLURALS = {"sheep": "sheep", "deer": "deer", "fish": "fish", "mouse": "mice", "wolf": "wolves",
                     "fox": "foxes", "goose": "geese"}


def _plural(noun: str) -> str:
    return IRREGULAR_PLURALS.get(noun, noun + "s")


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _name(rng: random.Random) -> str:
    return rng.choice(rng.choice((NAMES, MORE_NAMES)))


def _noun(rng: random.Random) -> str:
    pool = rng.choice((THINGS, THINGS, ANIMALS, TOOLS))
    return rng.choice(pool)


def _phrase(rng: random.Random) -> str:
    """A noun phrase such as "the old wooden boat"."""
    roll = rng.random()
    if roll < 0.4:
        return f"the {rng.choice(ADJECTIVES)} {_noun(rng)}"
    if roll < 0.5:
        return f"the {rng.choice(COLOURS)} {_noun(rng)}"
    return f"the {_noun(rng)}"


def _time(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.6:
        return rng.choice(TIMES)
    if roll < 0.8:
        return f"on {rng.choice(DAYS)}"
    return f"in {rng.choice(MONTHS)}"


def _clause(rng: random.Random) -> str:
    name = _name(rng)
    pick = rng.randrange(16)
    if pick == 0:
        return f"{name} {rng.choice(VERBS_PAST)} {_phrase(rng)} near {rng.choice(PLACES)}"
    if pick == 1:
        return f"{name} {rng.choice(MOTIONS)} to {rng.choice(PLACES)} {_time(rng)}"
    if pick == 2:
        return f"{_phrase(rng)} was {rng.choice(ADJECTIVES)} and {rng.choice(ADJECTIVES)}"
    if pick == 3:
        return f"{name} bought {rng.choice(NUMBERS)} {rng.choice(CONTAINERS)} of {rng.choice(FOODS)} at {rng.choice(PLACES)}"
    if pick == 4:
        return f"{name} was {rng.choice(FEELINGS)} that {_name(rng)} {rng.choice(VERBS_PAST)} {_phrase(rng)}"
    if pick == 5:
        return f"{rng.choice(WEATHER).lower()}"
    if pick == 6:
        return f"there were {rng.choice(NUMBERS)} {_plural(rng.choice(ANIMALS))} in {rng.choice(PLACES)}"
    if pick == 7:
        return f"{name} left {_a(rng.choice(ADJECTIVES))} {rng.choice(THINGS)} on the table {_time(rng)}"
    if pick == 8:
        return f"the {rng.choice(JOBS)} {rng.choice(VERBS_NOW)} in {rng.choice(PLACES)}"
    if pick == 9:
        return f"{name} works as {_a(rng.choice(JOBS))} {rng.choice(('in the city', 'near the sea', 'in a small town', 'at the old school'))}"
    if pick == 10:
        return f"{name} {rng.choice(ADVERBS)} {rng.choice(VERBS_PAST)} {_phrase(rng)}"
    if pick == 11:
        return f"{name} wants to {rng.choice(ACTIVITIES)} {_time(rng)}"
    if pick == 12:
        return f"{name} was born on the {_ordinal(rng.randint(1, 28))} of {rng.choice(MONTHS)} in {rng.randint(1950, 2015)}"
    if pick == 13:
        return f"the train to {rng.choice(TOWNS)} leaves at {rng.randint(1, 12)} {rng.choice(('o clock', 'fifteen', 'thirty', 'forty five'))}"
    if pick == 14:
        return f"{name} borrowed the {rng.choice(TOOLS)} from the {rng.choice(JOBS)}"
    return f"{name} and {_name(rng)} {rng.choice(MOTIONS)} {rng.choice(ADVERBS)} along the {rng.choice(('road', 'river', 'beach', 'path', 'street'))}"


def make_sentence(rng: random.Random) -> str:
    """One sentence (statement, question, request, exclamation, compound or list), capitalised and punctuated."""
    kind = rng.random()
    if kind < 0.3:
        text = _clause(rng) + "."
    elif kind < 0.5:
        text = f"{_clause(rng)} {rng.choice(CONNECTIVES)} {_clause(rng)}."
    elif kind < 0.65:
        verb = rng.choice(VERBS_BASE)
        text = rng.choice(
            (
                f"did {_name(rng)} {verb} {_phrase(rng)} {_time(rng)}?",
                f"where did {_name(rng)} put {_phrase(rng)}?",
                f"why was {_phrase(rng)} left near {rng.choice(PLACES)}?",
                f"could you {verb} {_phrase(rng)} for me, please?",
                f"how many {_plural(rng.choice(ANIMALS))} did {_name(rng)} see at {rng.choice(PLACES)}?",
                f"would you like to {rng.choice(ACTIVITIES)} with {_name(rng)}?",
                f"is the {rng.choice(JOBS)} still at {rng.choice(PLACES)}?",
            )
        )
    elif kind < 0.72:
        foods = rng.sample(FOODS, 3)
        text = f"{_name(rng)} asked for {foods[0]}, {foods[1]} and {foods[2]} {_time(rng)}."
    elif kind < 0.79:
        text = f"{rng.choice(WEATHER)}, so {_clause(rng)}."
    elif kind < 0.86:
        text = f"{rng.choice(EXCLAIMS)}! {_clause(rng)}."
    elif kind < 0.93:
        text = f"Please {rng.choice(VERBS_BASE)} {_phrase(rng)} {rng.choice(ADVERBS)} and {rng.choice(ACTIVITIES)} {_time(rng)}."
    else:
        text = f"First {_clause(rng)}, then {_clause(rng)}, and in the end {_clause(rng)}."
    return text[0].upper() + text[1:]


def make_sentences(count: int, seed: int = 0) -> list[str]:
    """``count`` sentences; the same ``seed`` always gives the same list (and a longer list extends a shorter one)."""
    rng = random.Random(seed)
    return [make_sentence(rng) for _ in range(count)]


def sentence_at(index: int, seed: int = 0) -> str:
    """Sentence number ``index`` of the stream for ``seed``, computed on its own (no need to generate the rest)."""
    return make_sentence(random.Random(f"{seed}:{index}"))


# --------------------------------------------------------------------------------------------- other languages
# Short plain sentences for the festival voices of other languages (codec training diversity); an utterance
# joins two of them, so a few dozen give hundreds of distinct texts.
FOREIGN_SENTENCES = {
    "it": (
        "Buongiorno, come stai oggi?|Il treno per Roma parte alle otto.|La mia casa è vicino al fiume.|"
        "Domani andiamo al mercato a comprare il pane.|Il gatto dorme sulla sedia in cucina.|"
        "Mi piace molto leggere libri la sera.|La piazza del paese è piena di gente.|"
        "Mia sorella lavora in una piccola biblioteca.|Oggi il cielo è grigio e fa freddo.|"
        "Abbiamo mangiato una pizza con gli amici.|Il museo apre alle nove del mattino.|"
        "Quanti anni ha tuo fratello?|La bicicletta rossa è nel giardino.|Scrivo una lettera alla nonna."
    ).split("|"),
    "ca": (
        "Bon dia, com estàs avui?|El tren cap a Girona surt a les vuit.|La meva casa és a prop del riu.|"
        "Demà anirem al mercat a comprar pa.|El gat dorm a la cadira de la cuina.|"
        "M'agrada molt llegir llibres al vespre.|La plaça del poble és plena de gent.|"
        "La meva germana treballa en una biblioteca petita.|Avui el cel és gris i fa fred.|"
        "Hem menjat una pizza amb els amics.|El museu obre a les nou del matí.|"
        "Quants anys té el teu germà?|La bicicleta vermella és al jardí.|Escric una carta a l'àvia."
    ).split("|"),
    "fi": (
        "Hyvää huomenta, mitä kuuluu?|Juna Helsinkiin lähtee kahdeksalta.|Talomme on lähellä jokea.|"
        "Huomenna menemme torille ostamaan leipää.|Kissa nukkuu keittiön tuolilla.|"
        "Luen mielelläni kirjoja illalla.|Kylän tori on täynnä ihmisiä.|"
        "Siskoni työskentelee pienessä kirjastossa.|Tänään taivas on harmaa ja on kylmä.|"
        "Söimme pizzaa ystävien kanssa.|Museo aukeaa yhdeksältä aamulla.|"
        "Kuinka vanha veljesi on?|Punainen polkupyörä on puutarhassa.|Kirjoitan kirjettä isoäidille."
    ).split("|"),
    "cs": (
        "Dobré ráno, jak se máte?|Vlak do Prahy odjíždí v osm hodin.|Náš dům je blízko řeky.|"
        "Zítra půjdeme na trh koupit chleba.|Kočka spí na židli v kuchyni.|"
        "Večer rád čtu knihy.|Náměstí je plné lidí.|"
        "Moje sestra pracuje v malé knihovně.|Dnes je obloha šedá a je zima.|"
        "Snědli jsme pizzu s přáteli.|Muzeum otevírá v devět hodin ráno.|"
        "Kolik let má tvůj bratr?|Červené kolo je na zahradě.|Píšu dopis babičce."
    ).split("|"),
}
LANGUAGES = ("en",) + tuple(FOREIGN_SENTENCES)


def text_for(key: str, index: int, seed: int = 0, language: str = "en") -> str:
    """Text number ``index`` read by ``key`` (a voice name) in ``language``; the same arguments, the same text.

    English: one generated sentence; other languages: two of :data:`FOREIGN_SENTENCES` joined.
    """
    rng = random.Random(f"{seed}:{key}:{index}")
    if language == "en":
        return make_sentence(rng)
    if language not in FOREIGN_SENTENCES:
        raise ValueError(f"no sentences for language {language!r}; known: {', '.join(LANGUAGES)}")
    first, second = rng.sample(FOREIGN_SENTENCES[language], 2)
    return f"{first} {second}"
