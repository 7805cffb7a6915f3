"""How residents phrase a request around its command word, so the parser finds it.

Residents write `Здравствуйте! Подскажите баланс пожалуйста`, `сколько я должен?`, `Какая
задолженность по лс 5012345678?`, `переплата есть?`. The words here are the frame of such
a request: greetings and politeness around it, and the question words it may be asked with.
A message is taken as a request only when every word in it is accounted for (the command
word, its frame, numbers); one word outside the frame (`Стоп! Я не то отправил`, `почему
долг не ушёл`) means it is about something else and goes to a person.

Pure word tables (normalised: lower case, е for ё); Latin spellings of the Russian words are
derived once at import, never per message.
"""

from __future__ import annotations

from smsbot.translit import latin_spellings

GREETING_ADJECTIVES = frozenset({"добрый", "доброе", "доброго", "доброй", "хорошего", "good"})
"""The first half of `добрый день`, `доброго времени суток`, `good morning`."""
GREETING_NOUNS = frozenset({"день", "утро", "вечер", "дня", "утра", "вечера", "ночи", "суток",
                            "времени", "morning", "afternoon", "evening", "day"})  # fmt: skip
"""The second half; on its own `день` is a meter word (`день 1234 ночь 567`), not a greeting."""

GREETINGS = frozenset({"здравствуйте", "здраствуйте", "здрасте", "здрасьте", "здравствуй",
                       "привет", "приветствую", "алло", "ало", "hello", "hi",
                       "hey", "hallo", "dear", "уважаемые", "уважаемая", "уважаемый"})  # fmt: skip
"""Words a message opens with that say nothing about the request."""

OPENERS = frozenset({
    "подскажите", "подскажи", "скажите", "скажи", "пожалуйста", "пожалуйсто", "пожалуста",
    "пжл", "пж", "пож", "плиз", "прошу", "будьте", "добры", "извините", "простите", "хочу",
    "хотел", "хотела", "хотелось", "бы", "можно", "могу", "ли", "я", "мне", "нам", "нужно",
    "нужен", "нужна", "надо", "узнать", "уточнить", "проверить", "сообщите", "напишите",
    "пришлите", "покажите", "дайте", "сказать", "оставить", "подать", "создать", "оформить",
    "написать", "принять", "примите", "передаю", "передаем", "передать", "отправляю",
    "сообщаю", "вот", "мои", "мой", "моя", "мое", "ваш", "а", "и", "so", "please", "pls", "plz",
    "can", "could", "you", "i", "want", "to", "get", "check", "send", "me", "my", "show", "tell",
    "give", "need", "would", "like", "know", "a", "file", "make", "open", "new", "here",
    "is", "are", "submit", "submitting", "sending",
})  # fmt: skip
"""Words before the command word that only ask politely (`подскажите`, `хочу узнать`,
`передаю`): skipped, whatever their number."""

CLOSERS = frozenset({"пожалуйста", "пожалуйсто", "пожалуста", "пжл", "пж", "плиз", "спасибо",
                     "заранее", "спс", "благодарю", "please", "pls", "plz", "thanks", "thank",
                     "you", "thx"})  # fmt: skip
"""Words after the request that only thank or ask politely (`стоп пожалуйста`)."""

FILLER = frozenset({
    "я", "мне", "меня", "у", "мой", "моя", "мое", "мои", "моему", "моей", "моим", "моего",
    "мою", "наш", "наша", "нашей", "нас", "нам", "по", "на", "за", "в", "во", "с", "со", "о",
    "об", "от", "и", "а", "ли", "же", "ка", "бы", "это", "сейчас", "сегодня", "теперь", "уже",
    "еще", "ещё", "вообще", "всего", "пожалуйста", "подскажите", "скажите", "сколько", "какой",
    "какая", "какое", "какие", "каков", "какова", "что", "где", "как", "есть", "там", "так",
    "текущий", "текущая", "текущее", "сумма", "сумму", "итого", "номер", "номеру", "номером",
    "№", "лс", "л", "счету", "счета", "счёту", "лицевой", "лицевому", "лицевого", "лицевом",
    "квартира", "квартиры", "квартире", "кв", "n", "узнать", "можно", "хочу", "проверить",
    "i", "me", "my", "is", "are", "am", "do", "does", "what", "whats", "s", "how", "much", "many",
    "the", "a", "an", "of", "for", "on", "in", "to", "please", "pls", "now", "current", "any",
    "there", "have", "has", "got", "account", "acc", "no", "nr", "number", "check", "show",
    "tell", "get", "see", "can", "could", "you",
})  # fmt: skip
"""Little words of any question (`какой у меня`, `what is my`, `по лс`)."""

QUESTION_WORDS: dict[str, tuple[str, ...]] = {
    "balance": ("должен", "должна", "должны", "должно", "платить", "заплатить", "оплатить",
                "оплате", "оплата", "переплата", "переплаты", "переплату", "переплачено",
                "баланса", "балансе", "owe", "pay", "overpaid", "overpayment", "due",
                "owed"),
    "debt": ("долга", "долгу", "долгов", "долгам", "задолжал", "задолжала", "задолжали",
             "задолженностью", "задолжности"),
    "ticket": ("заявки", "заявке", "заявкой", "заявок", "заявочка", "заявочку", "заявочке",
               "tickets", "request"),
    "status": ("статуса", "статусе"),
    "contacts": ("телефона", "телефонов", "номера", "диспетчерской", "диспетчера", "диспетчеру",
                 "диспетчеров", "аварийной", "аварийки", "аварийку", "аварийную", "службы",
                 "служба", "тел", "tel", "phone", "позвонить", "звонить", "call"),
    "meter": ("показаний", "счетчиков", "счетчика", "счетчику"),
    "language": ("русском", "русски", "английском", "английски"),
    "help": ("команд", "помощи", "справки"),
}  # fmt: skip
"""Words that name a command inside a question (`сколько я должен`, `какой статус заявки`)
though they are not its first-word keyword."""

FRAMES: dict[str, frozenset[str]] = {
    "balance": frozenset({"платежа", "платеж", "к", "оплаты", "месяц", "этот", "за", "квитанции",
                          "квитанция", "by", "bill", "pay", "much"}),
    "debt": frozenset({"к", "оплаты", "квитанции", "любой", "никакой", "нету", "нет"}),
    "ticket": frozenset(),
    "status": frozenset({"ней", "ним", "моей", "моя", "заявке", "заявкой", "заявки", "заявка",
                         "by", "with", "it", "ticket", "request", "state", "состояние", "сделали",
                         "делают", "когда", "выполнена", "готова", "done", "ready"}),
    "contacts": frozenset({"дайте", "к", "для", "связи", "ук", "управляющей", "компании", "как",
                           "позвонить", "звонить", "связаться", "the", "phone", "phones", "number",
                           "numbers", "call", "dispatch", "дежурного", "мастера", "диспетчерской",
                           "диспетчеру", "диспетчера", "аварийной", "аварийки", "службы",
                           "телефонов", "телефона", "ваш", "ваши", "какой", "аварийных",
                           "аварийные", "служб", "экстренных", "экстренные", "дежурной"}),
    "help": frozenset({"команды", "команд", "список", "commands", "list", "все", "all"}),
    "language": frozenset({"язык", "языке", "на", "language", "reply", "in", "answers"}),
    "meter": frozenset({"вода", "воды", "воду", "water", "кухня", "кухне", "ванная",
                        "ванной", "кух", "ван", "передаю", "передаем", "передать", "показания",
                        "показание", "счетчик", "счетчики", "счетчика", "счетчиков", "энергия",
                        "энергии", "во", "ва", "тариф", "t", "т", "за", "месяц", "по", "и",
                        "readings", "reading", "meter", "meters", "electric", "rate"}),
}  # fmt: skip
"""Words that may stand beside one command's word without making the message about
something else (`телефон диспетчерской`, `хол. вода 123`)."""


def with_latin(words: frozenset[str] | tuple[str, ...]) -> frozenset[str]:
    """The words and every Latin spelling of them (`skolko`, `dolzhen`, `pozhaluysta`)."""
    return frozenset(words).union(*(latin_spellings(w) for w in words))


GREETINGS_ANY = with_latin(GREETINGS)
GREETING_ADJECTIVES_ANY = with_latin(GREETING_ADJECTIVES)
GREETING_NOUNS_ANY = with_latin(GREETING_NOUNS)
OPENERS_ANY = with_latin(OPENERS)
CLOSERS_ANY = with_latin(CLOSERS)
FILLER_ANY = with_latin(FILLER)
FRAMES_ANY = {intent: with_latin(words) for intent, words in FRAMES.items()}
QUESTION_ANY: dict[str, str] = {
    form: intent
    for intent, words in QUESTION_WORDS.items()
    for form in sorted(with_latin(words), key=len)
}
"""Every spelling of a question word → the intent it names."""


def request_span(words: list[str]) -> tuple[int, int, bool]:
    """Where the request is among a message's words: (start, end, asked) with greetings and
    politeness cut off both ends; `asked` when words other than greetings were cut at the
    start (`подскажите`, `хочу узнать`), i.e. the request is phrased rather than typed bare."""
    start, end, asked = 0, len(words), False
    while start < end:
        word = words[start]
        if word in GREETINGS_ANY:
            start += 1
        elif word in GREETING_ADJECTIVES_ANY and start + 1 < end:
            start += 1
            while start < end and words[start] in GREETING_NOUNS_ANY:
                start += 1
        elif word in OPENERS_ANY:
            start, asked = start + 1, True
        else:
            break
    while end > start and words[end - 1] in CLOSERS_ANY:
        end -= 1
    return start, end, asked


def unframed(words: list[str], intent: str, *, numbers_count: bool = False) -> int:
    """How many words are neither a number, nor filler, politeness or in the frame of
    `intent`: the measure of how much a message says besides its request."""
    frame = FRAMES_ANY.get(intent, frozenset())
    return sum(
        1
        for w in words
        if not (w.isdigit() and not numbers_count)
        and w not in FILLER_ANY
        and w not in CLOSERS_ANY
        and w not in frame
    )


ENGLISH_MARKERS = frozenset({"the", "is", "are", "was", "were", "of", "in", "on", "at", "to",
                             "we", "our", "my", "i", "it", "there", "this", "and", "with", "from",
                             "please", "when", "will", "what", "why", "can", "you", "have", "has",
                             "not", "no", "be", "been", "a", "an", "for", "since", "still"})  # fmt: skip
"""Little English words; two of them in a Latin-only message mean it is English, not
transliterated Russian (`v podezde net sveta` has none)."""


def english_text(words: list[str]) -> bool:
    """Whether a message that is no command is written in English (`smell of gas in the
    stairwell`, `When will the hot water be back?`), so its answer can be too."""
    return all(w.isascii() for w in words) and len(ENGLISH_MARKERS.intersection(words)) >= 2
