r"""# Exercises: Tokenization strategies

UTF-8 by hand, both ways (what byte-level tokenizers stand on), and GPT-4's digit grouping."""

from masterclass.nlp.pretokenize import GPT4_PATTERN, byte_tokenize, regex_pretokenize

CODE_POINTS = [0x41, 0x7F, 0x80, 0xE9, 0x7FF, 0x800, 0x20AC, 0xFFFD, 0x10000, 0x1F600, 0x10FFFF]


def solution_1_utf8_encode(code_point: int) -> list[int]:
    """1 byte below 0x80, else a lead byte (`110xxxxx`, `1110xxxx`, `11110xxx`) and 6-bit
    continuation bytes `10xxxxxx`."""
    if code_point < 0x80:
        return [code_point]
    if code_point < 0x800:
        n, lead = 1, 0xC0
    elif code_point < 0x10000:
        n, lead = 2, 0xE0
    else:
        n, lead = 3, 0xF0
    tail = [0x80 | ((code_point >> (6 * i)) & 0x3F) for i in reversed(range(n))]
    return [lead | (code_point >> (6 * n)), *tail]


def check_1_utf8_encode(fn) -> None:
    """Compare with Python's UTF-8 encoder (through the chapter's `byte_tokenize`) at every
    length boundary."""
    for cp in CODE_POINTS:
        want = byte_tokenize(chr(cp))
        got = list(fn(cp))
        assert got == want, (
            f"U+{cp:04X}: got {[f'{b:08b}' for b in got]}, want {[f'{b:08b}' for b in want]}"
        )


def solution_2_utf8_decode(data: list[int]) -> list[int]:
    """Read the length from the lead byte's high bits, then 6 bits per continuation byte."""
    out, i = [], 0
    while i < len(data):
        b = data[i]
        n = 0 if b < 0x80 else 1 if b < 0xE0 else 2 if b < 0xF0 else 3
        cp = b & (0x7F, 0x1F, 0x0F, 0x07)[n]
        for j in range(1, n + 1):
            cp = (cp << 6) | (data[i + j] & 0x3F)
        out.append(cp)
        i += n + 1
    return out


def check_2_utf8_decode(fn) -> None:
    """Compare with Python's UTF-8 decoder on mixed-length text."""
    for text in ["abc", "né", "€uro", "日本語", "a😀b", "".join(map(chr, CODE_POINTS))]:
        data = list(text.encode("utf-8"))
        got = list(fn(data))
        want = [ord(c) for c in text]
        assert got == want, f"{text!r}: got code points {got}, want {want}"


def solution_3_digit_groups(digits: str) -> list[str]:
    r"""GPT-4's `\p{N}{1,3}`: groups of three from the left, the remainder last."""
    return [digits[i : i + 3] for i in range(0, len(digits), 3)]


def check_3_digit_groups(fn) -> None:
    """Compare with the GPT-4 split pattern applied to digit strings."""
    for digits in ["7", "12", "123", "1234", "1234567", "0000000000"]:
        want = regex_pretokenize(digits, GPT4_PATTERN)
        got = list(fn(digits))
        assert got == want, f"{digits!r}: got {got}, the GPT-4 pattern gives {want}"
