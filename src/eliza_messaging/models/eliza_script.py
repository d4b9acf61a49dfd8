"""The script the embedded ELIZA responder runs: plain data, in our own words.

ELIZA's behaviour lives almost entirely in its script, so keeping the script as data (and
the engine in ``eliza.py`` generic) lets anyone retune the conversation without touching
code. The structure follows Weizenbaum's design:

* every keyword has a *rank*; the highest-ranked keyword found in the input wins;
* each keyword has *rules*: a decomposition pattern and the reassemblies it cycles through;
* a rule may instead ``goto`` another keyword and use that keyword's rules;
* *substitutions* normalise the input first (contractions, spelling variants, synonyms);
* *reflections* swap the speaker's point of view (I <-> you, my <-> your, am <-> are, ...);
* *memory rules* remember what the user said about "my ..." to bring it up later.

Pattern syntax (whitespace separated, matched against lower-case words):

``*``        zero or more words           ``+``       one or more words
``@group``   one word from a synonym group ``word``    that literal word

Every ``*``, ``+`` and ``@group`` captures a part, numbered from 1; a reassembly refers to
part *n* as ``{n}`` (inserted with I/you reflected) and to the agent's own name as
``{name}``. The wording of every reply below is original to this project.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Rule:
    """A decomposition pattern with the replies it cycles through, or a redirect."""

    pattern: str
    replies: tuple[str, ...] = ()
    goto: str | None = None


@dataclass(frozen=True, slots=True)
class Keyword:
    """Words that trigger the same rules; ``rank`` decides which keyword wins."""

    words: tuple[str, ...]
    rank: int
    rules: tuple[Rule, ...]

    @property
    def name(self) -> str:
        """The canonical word, used by ``goto`` and reported as the matched keyword."""
        return self.words[0]


@dataclass(frozen=True, slots=True, eq=False)
class Script:
    """A complete ELIZA script; see the module docstring for the pattern syntax."""

    keywords: tuple[Keyword, ...]
    synonyms: Mapping[str, tuple[str, ...]]
    phrase_substitutions: tuple[tuple[str, str], ...]
    word_substitutions: Mapping[str, str]
    reflections: Mapping[str, str]
    memory_keyword: str
    memory_rules: tuple[Rule, ...]
    goodbye_keyword: str
    fallbacks: tuple[str, ...]
    empty_replies: tuple[str, ...]


def _kw(words: str, rank: int, *rules: Rule) -> Keyword:
    """Shorthand so the table below stays readable."""
    return Keyword(tuple(words.split()), rank, rules)


def _r(pattern: str, *replies: str) -> Rule:
    return Rule(pattern, replies)


def _goto(pattern: str, keyword: str) -> Rule:
    return Rule(pattern, (), keyword)


SYNONYMS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "belief": ("feel", "think", "believe", "wish", "suppose", "guess", "reckon"),
        "family": (
            "family",
            "mother",
            "mum",
            "mom",
            "father",
            "dad",
            "parents",
            "sister",
            "brother",
            "wife",
            "husband",
            "partner",
            "son",
            "daughter",
            "children",
            "kids",
            "grandmother",
            "grandfather",
            "aunt",
            "uncle",
            "cousin",
        ),
        "desire": ("want", "need", "crave", "desire"),
        "sad": (
            "sad",
            "unhappy",
            "depressed",
            "miserable",
            "lonely",
            "upset",
            "hopeless",
            "anxious",
            "worried",
            "scared",
            "afraid",
            "tired",
            "stressed",
            "angry",
            "frustrated",
        ),
        "happy": ("happy", "glad", "cheerful", "excited", "better", "calm", "relieved"),
        "everyone": ("everyone", "everybody", "nobody"),
        "be": ("am", "is", "are", "was", "were"),
        "state": ("am", "feel", "get", "seem"),
    }
)

# Applied to the raw text (case-insensitive, whole words) before it is split into words.
PHRASE_SUBSTITUTIONS: tuple[tuple[str, str], ...] = (
    ("good bye", "goodbye"),
    ("good night", "goodbye"),
    ("see you later", "goodbye"),
    ("see ya", "goodbye"),
    ("talk to you later", "goodbye"),
    ("thank you", "thanks"),
    ("no one", "nobody"),
    ("every one", "everyone"),
    ("all the time", "always"),
    ("every time", "always"),
)

# Applied word by word; a value may expand to several words.
WORD_SUBSTITUTIONS: Mapping[str, str] = MappingProxyType(
    {
        "im": "i am",
        "i'm": "i am",
        "ive": "i have",
        "i've": "i have",
        "i'll": "i will",
        "i'd": "i would",
        "youre": "you are",
        "you're": "you are",
        "you've": "you have",
        "you'll": "you will",
        "you'd": "you would",
        "u": "you",
        "ur": "your",
        "dont": "do not",
        "don't": "do not",
        "doesnt": "does not",
        "doesn't": "does not",
        "didnt": "did not",
        "didn't": "did not",
        "cant": "cannot",
        "can't": "cannot",
        "wont": "will not",
        "won't": "will not",
        "isnt": "is not",
        "isn't": "is not",
        "arent": "are not",
        "aren't": "are not",
        "wasnt": "was not",
        "wasn't": "was not",
        "werent": "were not",
        "weren't": "were not",
        "havent": "have not",
        "haven't": "have not",
        "recall": "remember",
        "recollect": "remember",
        "dreamt": "dreamed",
        "dreams": "dream",
        "maybe": "perhaps",
        "probably": "perhaps",
        "possibly": "perhaps",
        "certainly": "yes",
        "yeah": "yes",
        "yep": "yes",
        "yup": "yes",
        "nope": "no",
        "nah": "no",
        "machine": "computer",
        "machines": "computer",
        "computers": "computer",
        "robot": "computer",
        "robots": "computer",
        "bot": "computer",
        "chatbot": "computer",
        "ai": "computer",
        "same": "alike",
        "similar": "alike",
        "apologise": "sorry",
        "apologize": "sorry",
        "apologies": "sorry",
        "thx": "thanks",
        "ty": "thanks",
        "bye": "goodbye",
        "farewell": "goodbye",
        "goodnight": "goodbye",
        "hi": "hello",
        "hey": "hello",
        "howdy": "hello",
        "greetings": "hello",
        "everybody": "everyone",
        "noone": "nobody",
        "cause": "because",
        "cuz": "because",
        "coz": "because",
    }
)

# Point-of-view swaps for words whose reflection needs no context. "you", "are", "was" and
# "were" depend on their neighbours and are handled by the engine.
REFLECTIONS: Mapping[str, str] = MappingProxyType(
    {
        "i": "you",
        "me": "you",
        "my": "your",
        "mine": "yours",
        "myself": "yourself",
        "am": "are",
        "your": "my",
        "yours": "mine",
        "yourself": "myself",
    }
)

KEYWORDS: tuple[Keyword, ...] = (
    _kw(
        "goodbye",
        100,
        _r(
            "*",
            "Goodbye. Thank you for talking with me.",
            "Take care of yourself. I'll be here if you want to talk again.",
            "Goodbye for now. I hope the rest of your day treats you kindly.",
        ),
    ),
    _kw(
        "computer",
        20,
        _r(
            "*",
            "Does talking to a computer make you uneasy?",
            "Why bring computers into this?",
            "Do you think a machine can really understand you?",
            "What part do you imagine computers play in how you feel?",
        ),
    ),
    _kw(
        "name",
        15,
        _r(
            "* my name is +",
            "Pleased to meet you, {2}. What would you like to talk about?",
            "Thank you, {2}. What brings you here today?",
        ),
        _r(
            "* your name *",
            "I'm {name}. But I'd rather hear about you.",
            "You can call me {name}. Now, what is on your mind?",
        ),
        _r(
            "*",
            "Names interest me less than what you want to tell me. Go on.",
            "Let's not dwell on names. What is troubling you?",
        ),
    ),
    _kw("like", 10, _goto("* @be * like *", "alike")),
    _kw(
        "alike",
        10,
        _r(
            "*",
            "In what way?",
            "What resemblance do you notice?",
            "What does that likeness suggest to you?",
            "Do you see a connection there?",
            "How do you think they are connected?",
        ),
    ),
    _kw(
        "remember",
        5,
        _r(
            "* i remember +",
            "Do you think about {2} often?",
            "What else comes to mind when you remember {2}?",
            "Why does {2} come back to you right now?",
            "What in the present reminds you of {2}?",
        ),
        _r(
            "* do you remember +",
            "Did you expect me to forget {2}?",
            "Why would you like me to recall {2}?",
            "What about {2}?",
        ),
        _r("*", "Memories can tell us a lot. What else do you recall?", "Why is that memory with you now?"),
    ),
    _kw(
        "dream dreamed dreaming",
        4,
        _r(
            "* i dreamed +",
            "Really, {2}? Have you had that dream before?",
            "Have you ever imagined {2} while you were awake?",
            "What do you make of dreaming that {2}?",
        ),
        _r(
            "*",
            "What do you think that dream is telling you?",
            "Do your dreams often stay with you after you wake?",
            "Who else appears in your dreams?",
            "Do dreams trouble you?",
        ),
    ),
    _kw(
        "if",
        3,
        _r(
            "* if +",
            "Do you think it is likely that {2}?",
            "Would you like it if {2}?",
            "And suppose {2}. What then?",
            "What makes you consider whether {2}?",
        ),
    ),
    _kw(
        "everyone",
        2,
        _r(
            "* @everyone *",
            "Is it really {2}?",
            "Can you think of anyone in particular?",
            "Who, for example?",
            "Are you thinking of someone specific?",
        ),
    ),
    _kw(
        "my",
        2,
        _r(
            "* my * @family +",
            "Tell me more about your family.",
            "Who else in your family {4}?",
            "How do you get along with your {3}?",
            "What comes to mind when you think of your {3}?",
        ),
        _r(
            "* my * @family *",
            "Tell me more about your {3}.",
            "How do you get along with your {3}?",
            "What is your {3} like?",
        ),
        _r(
            "* my +",
            "Your {2}. Tell me more.",
            "Why do you say your {2}?",
            "You mention your {2}. What does that mean to you?",
            "What else comes to mind when you think of your {2}?",
        ),
    ),
    _kw(
        "was were",
        2,
        _r("* was i +", "What if you were {2}?", "Do you think you were {2}?", "What would it mean if you were {2}?"),
        _r("* i was +", "Were you really?", "Why tell me you were {2} just now?", "How did it feel to be {2}?"),
        _r(
            "* were you +",
            "Would you like to believe I was {2}?",
            "What suggests that I was {2}?",
            "Perhaps I was {2}. What do you think?",
        ),
    ),
    _kw(
        "always",
        1,
        _r(
            "*",
            "Can you think of a particular example?",
            "When did it last happen?",
            "Is it truly every time?",
            "What comes to mind when you say that?",
        ),
    ),
    _kw(
        "sorry",
        1,
        _r(
            "*",
            "There is no need to apologise.",
            "Apologies aren't necessary here. What were you going to say?",
            "What makes you feel you need to say sorry?",
        ),
    ),
    _kw(
        "thanks",
        1,
        _r("*", "You're welcome. What else is on your mind?", "I'm glad to listen. Shall we go on?"),
    ),
    _kw(
        "perhaps",
        0,
        _r(
            "*",
            "You don't sound very sure.",
            "Why the uncertainty?",
            "Could you be a little more definite?",
            "Is something making you hesitate?",
        ),
    ),
    _kw(
        "hello",
        0,
        _r(
            "*",
            "Hello. What would you like to talk about today?",
            "Hi there. How are you feeling?",
            "Hello. Tell me what is on your mind.",
        ),
    ),
    _kw(
        "i",
        0,
        _r(
            "* i @desire +",
            "What would it mean to you if you got {3}?",
            "Why do you {2} {3}?",
            "Suppose you had {3} soon. What then?",
            "What if you never got {3}?",
        ),
        _r(
            "* i @state not +",
            "Why do you say you are not {3}?",
            "Would you like to be {3}?",
            "How long have you felt that way?",
        ),
        _r(
            "* i @state * @sad *",
            "I'm sorry to hear that you are {4}.",
            "Do you think talking here could help you feel less {4}?",
            "Feeling {4} is hard. Can you tell me what happened?",
            "What do you think is making you {4}?",
        ),
        _r(
            "* i @state * @happy *",
            "What has made you {4} just now?",
            "That is good to hear. What changed?",
            "Can you explain why you are {4}?",
        ),
        _goto("* i @belief you +", "you"),
        _r(
            "* i @belief i +",
            "Do you really think so?",
            "But you aren't sure that you {3}?",
            "Do you truly doubt that you {3}?",
        ),
        _r(
            "* i am +",
            "Did you come to me because you are {2}?",
            "How long have you been {2}?",
            "Do you think it is normal to be {2}?",
            "Do you enjoy being {2}?",
            "What would change if you were not {2}?",
        ),
        _r(
            "* i cannot +",
            "How do you know that you cannot {2}?",
            "Have you tried?",
            "Perhaps you could {2} now.",
            "Do you really want to be able to {2}?",
        ),
        _r(
            "* i do not +",
            "Don't you really {2}?",
            "Why don't you {2}?",
            "Would you like to be able to {2}?",
            "Does that trouble you?",
        ),
        _r(
            "* i feel +",
            "Tell me more about feeling {2}.",
            "Do you often feel {2}?",
            "When do you usually feel {2}?",
            "What do you do when you feel {2}?",
        ),
        _r("* i + you *", "Do you {2} anyone else?", "Why do you {2} me?", "What makes you {2} me?"),
        _r(
            "* i +",
            "You {2}. Why is that?",
            "Can you say more about that?",
            "Why do you think you {2}?",
            "And how does that make you feel?",
        ),
    ),
    _kw(
        "you",
        0,
        _goto("* you remind me of *", "alike"),
        _r(
            "* you are +",
            "What makes you think I am {2}?",
            "Does it please you to believe I am {2}?",
            "Would you like me to be {2}?",
            "Perhaps you would like to be {2} yourself.",
        ),
        _r(
            "* you + me *",
            "Why do you think I {2} you {3}?",
            "You like to think I {2} you {3}, don't you?",
            "What makes you say I {2} you {3}?",
            "Suppose I did {2} you {3}. What would that mean?",
        ),
        _r(
            "* you +",
            "We were talking about you, not me.",
            "Oh? I {2}?",
            "Is this really about me, or about you?",
            "What makes you say that about me?",
        ),
    ),
    _kw(
        "yes",
        0,
        _r("*", "You seem quite sure.", "I see. Go on.", "All right. Can you say more?", "I understand."),
    ),
    _kw(
        "no",
        0,
        _r(
            "*",
            "Are you saying no just to be contrary?",
            "Why not?",
            "That sounds rather firm.",
            "All right. What would you rather talk about?",
        ),
    ),
    _kw(
        "can",
        0,
        _r(
            "* can you +",
            "You believe I can {2}, don't you?",
            "Would you like me to be able to {2}?",
            "What if I could {2}?",
        ),
        _r(
            "* can i +",
            "Whether you can {2} depends more on you than on me.",
            "Do you want to be able to {2}?",
            "What would stop you?",
        ),
    ),
    _kw(
        "am",
        0,
        _r(
            "* am i +",
            "Do you believe you are {2}?",
            "Would you want to be {2}?",
            "What if you were {2}?",
            "Do you wish I would tell you that you are {2}?",
        ),
    ),
    _kw(
        "are",
        0,
        _r(
            "* are you +",
            "Why does it matter to you whether I am {2}?",
            "Would you prefer it if I were not {2}?",
            "Perhaps I am {2} in your imagination.",
            "What do you think?",
        ),
        _r(
            "* are +",
            "Did you think they might not be {2}?",
            "Would you like it if they were not {2}?",
            "Perhaps they are {2}.",
        ),
    ),
    _kw(
        "your",
        0,
        _r(
            "* your +",
            "Why are you interested in my {2}?",
            "What about your own {2}?",
            "Are you worried about someone else's {2}?",
            "Does my {2} matter to you?",
        ),
    ),
    _kw(
        "why",
        0,
        _r(
            "* why do not you +",
            "Do you think I should {2}?",
            "Would you like me to {2}?",
            "Perhaps I will {2} in time.",
        ),
        _r(
            "* why cannot i +",
            "Do you think you should be able to {2}?",
            "What would you do if you could {2}?",
            "What stands in your way?",
        ),
        _goto("*", "what"),
    ),
    _kw(
        "what how when who where",
        0,
        _r(
            "*",
            "Why do you ask?",
            "Does that question matter much to you?",
            "What answer would please you most?",
            "What do you think?",
            "Have you asked anyone else?",
        ),
    ),
    _kw(
        "because",
        0,
        _r(
            "*",
            "Is that the real reason?",
            "Could there be other reasons?",
            "Does that explain everything?",
            "What other reasons come to mind?",
        ),
    ),
    _kw(
        "different",
        0,
        _r("*", "How is it different?", "What differences do you notice?", "What does that difference mean to you?"),
    ),
)

# Used instead of a normal reply when "my" wins: remembered now, brought up later when
# nothing else in the input matches.
MEMORY_RULES: tuple[Rule, ...] = (
    _r(
        "* my +",
        "Earlier you mentioned your {2}. Shall we come back to that?",
        "Does this connect to what you said about your {2}?",
        "A while ago you told me your {2}. How do you feel about it now?",
        "Let's go back to what you said about your {2}.",
    ),
)

FALLBACKS: tuple[str, ...] = (
    "I'm not sure I understand. Could you say more?",
    "Go on, I'm listening.",
    "What does that suggest to you?",
    "How does that make you feel?",
    "Why do you say that?",
    "Let's explore that a little further.",
)

EMPTY_REPLIES: tuple[str, ...] = (
    "Yes? I'm listening.",
    "You called? What is on your mind?",
    "I'm here. What would you like to talk about?",
)

DEFAULT_SCRIPT = Script(
    keywords=KEYWORDS,
    synonyms=SYNONYMS,
    phrase_substitutions=PHRASE_SUBSTITUTIONS,
    word_substitutions=WORD_SUBSTITUTIONS,
    reflections=REFLECTIONS,
    memory_keyword="my",
    memory_rules=MEMORY_RULES,
    goodbye_keyword="goodbye",
    fallbacks=FALLBACKS,
    empty_replies=EMPTY_REPLIES,
)
