"""Deterministic multilingual corpus for crossrank's reference fixtures.

Every line comes from hand-written sentences below or from seeded templates, so
the same seed always yields the same corpus. The corpus is deliberately hostile:
it mixes scripts, control and zero-width characters, odd whitespace, combining
accents, very long lines, empty lines and the tokenizers' own special tokens.
"""

import random
import unicodedata

EN = [
    "The quick brown fox jumps over the lazy dog.",
    "How do I reset my password if I no longer have access to my email?",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "The Treaty of Westphalia in 1648 ended the Thirty Years' War.",
    "What is the boiling point of water at high altitude?",
    "Cross-encoders score a query and a document together, which makes them slower but more accurate than bi-encoders.",
    "A binary search runs in O(log n) time on a sorted array.",
    "Mount Everest is 8,848.86 metres tall according to the 2020 survey.",
    "Don't forget: the meeting starts at 9:30 a.m. sharp!",
    "She sells sea-shells by the sea-shore; the shells she sells are surely sea-shells.",
    "Rust's borrow checker prevents data races at compile time.",
    "The mitochondria is the powerhouse of the cell.",
    "In 1969, Apollo 11 landed on the Moon and Neil Armstrong walked on its surface.",
    "Which is faster for re-ranking search results: BM25 or a transformer?",
    "E-mail me at someone@example.com or call +1 (555) 010-9999.",
    "The price rose from $19.99 to $24.50 (a 22.6% increase).",
    "Tokenization splits text into sub-word units such as 'un', '##believ', '##able'.",
    "unbelievable UNBELIEVABLE Unbelievable unbelievably disbelief",
    "C++ and C# are different languages; so are Java and JavaScript.",
    "https://example.com/search?q=cross+encoder&lang=en#results",
    "Why is the sky blue during the day but red at sunset?",
    "Gradient descent updates parameters in the direction of the negative gradient.",
    "The cat sat on the mat. The dog sat on the log.",
    "I can't believe it's not butter!!!",
    "state-of-the-art, well-known, mother-in-law, re-ranking",
]

ACCENTED = [
    "Héllo naïve café, résumé and façade.",
    "El niño comió piña en la mañana; ¿quién lo sabía?",
    "São Paulo é a maior cidade do Brasil, não é?",
    "Zażółć gęślą jaźń.",
    "Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "Tiếng Việt có nhiều dấu: ả, ã, ạ, ế, ộ, ữ.",
    "Ångström, Øresund, Ærø and Åland.",
    "Dvořák composed the New World Symphony.",
    "crème brûlée, jalapeño, smörgåsbord, déjà vu",
    "İstanbul'da ılık bir gün; şöyle güzel çay içtik.",
    "Ólafur Arnalds is from Reykjavík, Ísland.",
    "Ça va? Très bien, merci — à bientôt!",
]

DE = [
    "Die Straße ist nass, weil es geregnet hat.",
    "Donaudampfschifffahrtsgesellschaftskapitän ist ein sehr langes Wort.",
    "Ich möchte gerne ein Glas Wasser, bitte.",
    "Wie funktioniert ein Transformer-Modell eigentlich?",
    "Größe, Maß und Fuß werden mit ß geschrieben.",
    "Über den Wolken muss die Freiheit wohl grenzenlos sein.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Rindfleischetikettierungsüberwachungsaufgabenübertragungsgesetz",
    "Kann man das Suchergebnis nach Relevanz neu sortieren?",
    "Äpfel, Öl und Übung beginnen mit Umlauten.",
]

FR = [
    "Où se trouve la bibliothèque la plus proche ?",
    "L'été dernier, nous sommes allés à la plage près de Nice.",
    "Le château de Versailles fut la résidence des rois de France.",
    "Qu'est-ce que l'apprentissage automatique ?",
    "Il était une fois une princesse qui vivait dans une forêt enchantée.",
    "Les élèves étudient l'histoire, la géographie et les mathématiques.",
    "« Bonjour », dit-il, « comment ça va ? »",
    "Cœur, sœur, œuvre et nœud s'écrivent avec œ.",
    "Le moteur de recherche classe les documents par pertinence.",
    "Noël tombe le 25 décembre ; l'Aïd varie selon le calendrier lunaire.",
]

ZH = [
    "我爱北京天安门。",
    "今天天气很好，我们去公园散步吧。",
    "机器学习是人工智能的一个分支。",
    "请问最近的地铁站在哪里？",
    "交叉编码器同时处理查询和文档。",
    "长城是世界上最长的城墙之一。",
    "他说：“我明天会来。”",
    "中文没有空格分词所以需要特别处理",
    "搜索引擎如何对结果进行重新排序？",
    "繁體中文與簡體中文有所不同。",
]

JA = [
    "東京は日本の首都です。",
    "すみません、駅はどこですか？",
    "ひらがな、カタカナ、漢字を混ぜて書きます。",
    "機械学習モデルは大量のデータで訓練されます。",
    "ｶﾀｶﾅ の 半角 と ＡＢＣ の 全角 文字。",
    "富士山に登ったことがありますか。",
    "今日はいい天気ですね。",
    "検索結果の並べ替えにはクロスエンコーダーが使われます。",
]

KO = [
    "안녕하세요, 만나서 반갑습니다.",
    "서울은 대한민국의 수도입니다.",
    "한국어는 교착어입니다.",
    "오늘 날씨가 정말 좋네요!",
    "검색 결과를 다시 순위를 매기는 방법은 무엇입니까?",
    "김치는 한국의 전통 음식입니다.",
]

AR = [
    "مرحبا بالعالم.",
    "اللغة العربية تكتب من اليمين إلى اليسار.",
    "ما هي عاصمة المملكة العربية السعودية؟",
    "التعلم الآلي فرع من فروع الذكاء الاصطناعي.",
    "كَتَبَ الطَّالِبُ الدَّرْسَ بِعِنَايَةٍ.",
    "الأرقام العربية: ٠١٢٣٤٥٦٧٨٩",
]

HI = [
    "नमस्ते, आप कैसे हैं?",
    "भारत की राजधानी नई दिल्ली है।",
    "मशीन लर्निंग कृत्रिम बुद्धिमत्ता की एक शाखा है।",
    "हिन्दी देवनागरी लिपि में लिखी जाती है।",
    "क्या आप मुझे रेलवे स्टेशन का रास्ता बता सकते हैं?",
    "संख्याएँ: ०१२३४५६७८९",
]

RU = [
    "Привет, мир!",
    "Москва — столица России.",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Машинное обучение — это раздел искусственного интеллекта.",
    "Где находится ближайшая станция метро?",
    "Ёлка, ёж и щётка пишутся с буквой ё.",
    "Как поисковая система ранжирует документы?",
]

EMOJI = [
    "I love pizza 🍕🍕🍕!",
    "Family: 👨‍👩‍👧‍👦 and couple: 👩‍❤️‍👨",
    "Flags: 🇺🇸 🇫🇷 🇯🇵 🇩🇪 🏳️‍🌈",
    "Skin tones: 👍🏻 👍🏼 👍🏽 👍🏾 👍🏿",
    "Weather today ☀️ then 🌧️ and later ⛈️",
    "Keycaps: 1️⃣ 2️⃣ #️⃣ *️⃣",
    "😀😃😄😁😆😅😂🤣",
    "The rocket 🚀 launched at 10:00 🕙",
    "Technologist 🧑‍💻 and scientist 👩‍🔬 work together.",
    "Math symbols ∑ ∫ √ ∞ ≈ ≠ ≤ ≥ and arrows → ← ↑ ↓",
]

CONTROL = [
    "null\x00byte inside",
    "bell\x07 and backspace\x08 here",
    "vertical\x0btab and form\x0cfeed",
    "escape \x1b[31mred\x1b[0m sequence",
    "unit\x1fseparator and record\x1eseparator",
    "delete\x7fcharacter",
    "next\u0085line character",
    "mixed\x01\x02\x03control\x04\x05\x06chars",
    "line one\nline two\nline three",
    "carriage\rreturn and\r\nCRLF",
    "\x00\x00\x00",
    "\x1f leading control",
    "trailing control \x7f",
]

ZERO_WIDTH = [
    "zero\u200bwidth\u200bspace",
    "zero\u200cwidth\u200cnon-joiner",
    "zero\u200dwidth\u200djoiner",
    "\ufeffbyte order mark at start",
    "word\ufeffjoiner in the middle",
    "हिन्दी\u200cशब्द",
    "\u200b\u200c\u200d\ufeff",
    "soft\u00adhyphen and word\u2060joiner",
    "right-to-left\u200fmark and left-to-right\u200emark",
]

WHITESPACE = [
    "non\u00a0breaking\u00a0space",
    "ideographic\u3000space\u3000here",
    "tabs\tbetween\t\twords",
    "multiple     spaces     between",
    "   leading and trailing spaces   ",
    "\t\ttabs at start",
    "em\u2003space and thin\u2009space and hair\u200aspace",
    "line\u2028separator and paragraph\u2029separator",
    "narrow\u202fno-break space",
    "ogham\u1680space mark",
]

SPECIAL = [
    "[SEP]",
    "[CLS] hello [SEP] world [SEP]",
    "this is [MASK] token",
    "[PAD] [UNK] [MASK]",
    "<s>",
    "</s>",
    "<s> hello </s></s> world </s>",
    "fill the <mask> please",
    "<pad><unk><mask>",
    "[sep] lowercase [mask] tokens",
    "[SEP][SEP][SEP]",
    "x[SEP]y<mask>z</s>w",
    "< s > and [ SEP ] are not special",
]

EDGE = [
    "",
    " ",
    "   ",
    "\t",
    "\n",
    "\u3000",
    "\u00a0\u00a0",
    " \t \n \r ",
    "a",
    "A",
    ".",
    "!!!",
    "...",
    "0",
    "1234567890",
    "3.14159265358979323846",
    "ﬁ ﬂ ligatures and ① ② ③ and ㎏ ㎞",
    "Ⅻ Ⅳ ½ ¼ ² ³ ™ ℃",
    "𝐁𝐨𝐥𝐝 𝕯𝖔𝖚𝖇𝖑𝖊 mathematical letters",
]

# Template vocabulary for English/other generated lines.
SUBJECTS = ["The engineer", "A student", "My neighbour", "The committee", "Our team", "The search engine",
            "A small robot", "The teacher", "Every visitor", "The old sailor", "The model", "This library"]
VERBS = ["reads", "builds", "explains", "ranks", "compares", "translates", "repairs", "describes",
         "measures", "tests", "summarizes", "downloads"]
OBJECTS = ["the documents", "a long report", "three new bridges", "the quarterly results", "every query",
           "the tokenizer", "a cross-encoder", "the weather forecast", "forty-two questions", "the source code",
           "an ancient manuscript", "the training data"]
PLACES = ["in Berlin", "at the library", "before breakfast", "on Tuesday", "during the storm", "in 2024",
          "with great care", "under pressure", "near the river", "for the first time", "in São Paulo",
          "at 3 a.m."]
TOPICS = ["solar energy", "neural networks", "the French revolution", "coffee brewing", "quantum computing",
          "marathon training", "tax returns", "volcanoes", "jazz music", "the immune system", "climate change",
          "sourdough bread", "chess openings", "electric cars", "honey bees", "the Roman empire",
          "password security", "black holes", "vaccines", "container shipping"]
QUESTION_FORMS = ["what is {t}", "how does {t} work", "history of {t}", "{t} explained", "best books about {t}",
                  "why is {t} important", "{t}", "is {t} dangerous?", "latest research on {t}",
                  "WHAT IS {T}?", "{t} vs {t2}"]
DOC_FORMS = [
    "{T} is a topic that many people find fascinating. {s1} {s2}",
    "An introduction to {t}: {s1} Experts agree that {t} matters. {s2}",
    "{s1} This article is about {t2}, not {t}.",
    "Frequently asked questions about {t}. Q: what is {t}? A: {s1}",
    "{s1} {s2} {s3}",
]

MULTI = [EN, ACCENTED, DE, FR, ZH, JA, KO, AR, HI, RU, EMOJI]


# Syllable inventories for seeded pseudo-words. Hand-written sentences repeat a
# few hundred words; trained vocabularies of several thousand pieces need more
# lexical variety, so lines of Zipf-distributed pseudo-words are added per script.
SYLLABLES = {
    "latin": ["ka", "lo", "me", "ri", "sta", "pen", "dor", "vi", "tra", "gus", "ne", "bel", "quo", "zim", "far",
              "ul", "ex", "ion", "ment", "ing", "er", "cha", "sch", "ver", "ung", "ké", "rè", "ñu", "ço", "ôt", "ül",
              "ß", "wy", "pr", "ath", "ol", "ic", "ous", "al", "th"],
    "cyrillic": ["ка", "ло", "ми", "ре", "ст", "пр", "но", "ва", "ть", "ся", "ого", "ени", "ж", "щи", "ё", "ду",
                 "гра", "зы", "бо", "чек"],
    "greek": ["κα", "λο", "με", "ρι", "στα", "πε", "νο", "θε", "ψυ", "χώ", "ει", "ου", "ση", "τη", "ον"],
    "devanagari": ["क", "ला", "मि", "रे", "स्त", "प्र", "नो", "वा", "ति", "से", "गु", "हा", "ज्ञ", "र्म", "ों"],
    "arabic": ["كا", "لو", "مي", "ري", "ست", "بر", "نو", "وا", "تي", "سي", "ال", "ين", "ة", "ون", "عا"],
}


def _hangul(rng):
    # Compose a precomposed Hangul syllable from a small jamo inventory.
    lead, vowel, tail = rng.randrange(8), rng.randrange(10), rng.choice([0, 0, 4, 8, 16, 21])
    return chr(0xAC00 + (lead * 21 + vowel) * 28 + tail)


CJK_POOL = "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴急"
KANA_POOL = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんがぎぐげござじずぜぞだでどばびぶべぼアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲンー"


def _pseudo_lexicon(rng, script, n):
    words = set()
    syl = SYLLABLES[script]
    while len(words) < n:
        words.add("".join(rng.choice(syl) for _ in range(rng.randint(1, 4))))
    return sorted(words)


def _zipf_pick(rng, words):
    # Zipf-like: index ~ floor(n ** u) concentrates mass on the first words.
    i = int(len(words) ** rng.random()) - 1
    return words[min(i, len(words) - 1)]


def pseudo_lines(rng, count):
    lex = {s: _pseudo_lexicon(rng, s, n) for s, n in
           (("latin", 4000), ("cyrillic", 1200), ("greek", 600), ("devanagari", 800), ("arabic", 800))}
    hangul = sorted({"".join(_hangul(rng) for _ in range(rng.randint(1, 3))) for _ in range(1500)})
    cjk = sorted({"".join(rng.choice(CJK_POOL) for _ in range(rng.randint(1, 3))) for _ in range(2000)})
    kana = sorted({"".join(rng.choice(KANA_POOL) for _ in range(rng.randint(2, 5))) for _ in range(1000)})
    scripts = list(lex) + ["hangul", "cjk", "kana"]
    out = []
    for _ in range(count):
        script = rng.choice(scripts)
        n = rng.randint(4, 40)
        if script in lex:
            words = [_zipf_pick(rng, lex[script]) for _ in range(n)]
            if script == "latin" and rng.random() < 0.3:
                words[0] = words[0].capitalize()
            out.append(" ".join(words) + rng.choice([".", "?", "!", "", ","]))
        elif script == "hangul":
            out.append(" ".join(_zipf_pick(rng, hangul) for _ in range(n)) + ".")
        elif script == "cjk":
            out.append("".join(_zipf_pick(rng, cjk) for _ in range(n)) + "。")
        else:
            out.append("".join(_zipf_pick(rng, kana) + rng.choice(["は", "を", "に", "の", ""]) for _ in range(n)) + "。")
    return out


def _sentence(rng):
    return f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(PLACES)}."


def _any_line(rng):
    return rng.choice(rng.choice(MULTI))


def build(seed):
    """Returns the corpus as a list of strings (deterministic for a seed)."""
    rng = random.Random(seed)
    lines = []
    for group in (EN, ACCENTED, DE, FR, ZH, JA, KO, AR, HI, RU, EMOJI, CONTROL, ZERO_WIDTH, WHITESPACE,
                  SPECIAL, EDGE):
        lines.extend(group)
    # NFD copies of the accented and Vietnamese/Hindi/Korean lines: combining marks
    # must normalise to the same ids (or not) exactly as HF does.
    for s in ACCENTED + DE[:4] + FR[:4] + KO[:3] + HI[:2]:
        lines.append(unicodedata.normalize("NFD", s))
    # Template English.
    for _ in range(300):
        lines.append(_sentence(rng))
    # Queries and documents.
    for _ in range(220):
        t, t2 = rng.sample(TOPICS, 2)
        form = rng.choice(QUESTION_FORMS)
        lines.append(form.format(t=t, t2=t2, T=t.upper()))
    for _ in range(220):
        t, t2 = rng.sample(TOPICS, 2)
        form = rng.choice(DOC_FORMS)
        lines.append(form.format(t=t, t2=t2, T=t.capitalize(), s1=_any_line(rng), s2=_sentence(rng),
                                 s3=_any_line(rng)))
    # Mixed-script lines, with noise characters spliced in.
    noise = ["\u200b", "\u00a0", "\t", "  ", "\x00", "\ufeff", "\u3000", "\u0301", "🙂", "[SEP]", "<s>", "</s>",
             "<mask>", "[MASK]", "\r\n", "\u200d"]
    for _ in range(150):
        parts = [_any_line(rng) for _ in range(rng.randint(2, 4))]
        for _ in range(rng.randint(0, 3)):
            i = rng.randrange(len(parts))
            p = parts[i]
            k = rng.randint(0, len(p))
            parts[i] = p[:k] + rng.choice(noise) + p[k:]
        lines.append(" ".join(parts))
    # Medium paragraphs (a few hundred tokens).
    for _ in range(60):
        lines.append(" ".join(_any_line(rng) if rng.random() < 0.5 else _sentence(rng)
                              for _ in range(rng.randint(8, 30))))
    # Very long lines: several thousand characters, the 512-token limit and the
    # long-context model's 1,024+ tokens are both exceeded.
    for n in (3000, 4500, 6000, 8000):
        parts = []
        while sum(len(p) + 1 for p in parts) < n:
            parts.append(_any_line(rng) if rng.random() < 0.6 else _sentence(rng))
        lines.append(" ".join(parts))
    lines.append("a " * 2500)
    lines.append("supercalifragilisticexpialidocious" * 40)  # one 1,360-char word: WordPiece max chars
    lines.append("中文" * 1500)
    lines.append("🙂" * 1200)
    # Random mixtures of everything.
    for _ in range(40):
        lines.append("".join(rng.choice(rng.choice(MULTI + [CONTROL, ZERO_WIDTH, WHITESPACE, SPECIAL, EDGE]))
                             for _ in range(rng.randint(1, 5))))
    lines.extend(pseudo_lines(random.Random(seed + 1), 800))
    return lines
