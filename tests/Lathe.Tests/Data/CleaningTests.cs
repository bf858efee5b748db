using Lathe.Data;

namespace Lathe.Tests.Data;

public class CleaningTests
{
    static readonly CleaningOptions NoFilter = new() { QualityFilter = false };

    static string Words(int n, string word = "word") => string.Join(' ', Enumerable.Repeat(word, n).Select((w, i) => w + (i % 10)));

    [Fact]
    public void NfcComposes()
    {
        var stats = new CleaningStats();
        Assert.Equal("caf\u00E9", new TextCleaner(NoFilter).Clean("cafe\u0301", stats));
        Assert.Equal(1, stats.NfcChanged);
    }

    [Fact]
    public void ControlAndInvisibleCharsRemovedButZwjKept()
    {
        var stats = new CleaningStats();
        string input = "a\u0000b\u200Bc\uFEFFd\u00ADe\u202Ef\u0007g\u200Dh\u0085i";
        Assert.Equal("abcdefg\u200Dhi", new TextCleaner(NoFilter).Clean(input, stats));
        Assert.Equal(7, stats.ControlCharsRemoved); // NUL, ZWSP, BOM, soft hyphen, RLO, BEL, NEL (a C1 control)
    }

    [Fact]
    public void WhitespaceNormalised()
    {
        var stats = new CleaningStats();
        string input = "  one\t\ttwo\u00A0 three  \r\n\r\n\r\n\r\nfour \r\nfive\n";
        Assert.Equal("one two three\n\nfour\nfive", new TextCleaner(NoFilter).Clean(input, stats));
        Assert.Equal(input.Length - "one two three\n\nfour\nfive".Length, stats.WhitespaceCharsRemoved);
    }

    [Fact]
    public void MailQuotesAndSignatureDropped()
    {
        var stats = new CleaningStats();
        string input = "I agree.\nOn Mon, 1 Jan 2002, Bob wrote:\n> old text\n  >> older\nMy reply.\n-- \nAlice\nalice@example.com\n";
        Assert.Equal("I agree.\nMy reply.", new TextCleaner(NoFilter).Clean(input, stats));
        Assert.Equal(3, stats.QuotedLinesRemoved);
        Assert.Equal(3, stats.SignatureLinesRemoved);

        var footer = new CleaningStats();
        Assert.Equal("Text.", new TextCleaner(NoFilter).Clean("Text.\n" + new string('_', 47) + "\nList mailing list\nhttp://x\n", footer));
        Assert.Equal(3, footer.SignatureLinesRemoved);
    }

    [Fact]
    public void HtmlDocumentsConverted()
    {
        var stats = new CleaningStats();
        string html = "<html><head><style>p{color:red}</style><script>var x=1;</script></head><body><p>One &amp; two</p><!-- c --><div>three&nbsp;four</div></body></html>";
        Assert.Equal("One & two\nthree four", new TextCleaner(NoFilter).Clean(html, stats));
        Assert.Equal(1, stats.HtmlConverted);
        Assert.Equal("a < b and c > d", new TextCleaner(NoFilter).Clean("a < b and c > d", new CleaningStats())); // not HTML
    }

    [Fact]
    public void ContactsScrubbedOnlyWhenAsked()
    {
        string input = "Mail john.doe+x@mail.example.co.uk or call (555) 123-4567 or +44 20 7946 0958 on 2002-08-22, v1.2.3.";
        Assert.Equal(input, new TextCleaner(NoFilter).Clean(input, new CleaningStats()));
        var stats = new CleaningStats();
        Assert.Equal("Mail [email] or call [phone] or [phone] on 2002-08-22, v1.2.3.",
            new TextCleaner(NoFilter with { ScrubContacts = true }).Clean(input, stats));
        Assert.Equal(1, stats.EmailsScrubbed);
        Assert.Equal(2, stats.PhonesScrubbed);
    }

    [Fact]
    public void GopherWordCountBounds()
    {
        var cleaner = new TextCleaner(CleaningOptions.Default);
        var stats = new CleaningStats();
        Assert.Null(cleaner.Clean(Words(49), stats));
        Assert.Equal(1, stats.RejectedTooFewWords);
        Assert.NotNull(cleaner.Clean(Words(50), stats));
        var small = new TextCleaner(CleaningOptions.Default with { MaxWords = 60 });
        Assert.Null(small.Clean(Words(61), stats));
        Assert.Equal(1, stats.RejectedTooManyWords);
    }

    [Fact]
    public void GopherMeanWordLengthSymbolsAlphabeticAndDuplicates()
    {
        var cleaner = new TextCleaner(CleaningOptions.Default);
        var stats = new CleaningStats();
        Assert.Null(cleaner.Clean(string.Join(' ', Enumerable.Repeat("ab", 60)), stats));           // mean 2
        Assert.Null(cleaner.Clean(string.Join(' ', Enumerable.Repeat("abcdefghijk", 60)), stats));  // mean 11
        Assert.Equal(2, stats.RejectedMeanWordLength);
        Assert.NotNull(cleaner.Clean(string.Join(' ', Enumerable.Repeat("abc", 60)), stats));       // mean 3: kept
        Assert.Null(cleaner.Clean(Words(60) + " #x #y #z #a #b #c #d", stats));                     // 7 / 67 > 0.1
        Assert.Equal(1, stats.RejectedSymbolRatio);
        Assert.Null(cleaner.Clean(Words(40) + " " + string.Join(' ', Enumerable.Repeat("1234", 20)), stats)); // 40/60 alphabetic
        Assert.Equal(1, stats.RejectedAlphabetic);
        string repeated = string.Join('\n', Enumerable.Range(0, 10).Select(i => i < 6 ? Words(8) : Words(8, "other" + i)));
        Assert.Null(cleaner.Clean(repeated, stats)); // 5 of 10 lines repeat an earlier one
        Assert.Equal(1, stats.RejectedDuplicateLines);
        Assert.Equal(5, stats.DocumentsIn - stats.DocumentsOut); // of 6 documents, only the mean-3 one passes
    }

    [Fact]
    public void PunctuatedLineFilterIsOptIn()
    {
        string text = string.Join('\n', Enumerable.Range(0, 10).Select(i => Words(6, "w" + i) + (i < 2 ? "." : "")));
        Assert.NotNull(new TextCleaner(CleaningOptions.Default).Clean(text, new CleaningStats()));
        var stats = new CleaningStats();
        Assert.Null(new TextCleaner(CleaningOptions.Default with { MinPunctuatedLineFraction = 0.3 }).Clean(text, stats));
        Assert.Equal(1, stats.RejectedPunctuation);
        Assert.NotNull(new TextCleaner(CleaningOptions.Default with { MinPunctuatedLineFraction = 0.2 }).Clean(text, new CleaningStats()));
    }
}

public class NfcTests
{
    static string FromHex(string s) => string.Concat(s.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(h => char.ConvertFromUtf32(Convert.ToInt32(h, 16))));

    [Fact]
    public void MatchesPythonUnicodedataOnFixture()
    {
        // Oracle: Python's unicodedata.normalize("NFC", …) on random base/mark strings (make_nfc_tables.py).
        int cases = 0;
        foreach (var line in File.ReadLines(Path.Combine(Peers.RepoRoot, "tests", "Lathe.Tests", "Data", "nfc_fixture.txt")))
        {
            if (line.StartsWith('#')) continue;
            var parts = line.Split('\t');
            Assert.Equal(FromHex(parts[1]), Lathe.Tokenizers.Unicode.Nfc.Normalize(FromHex(parts[0])));
            cases++;
        }
        Assert.Equal(3000, cases);
    }

    [Fact]
    public void AsciiIsReturnedAsIs()
    {
        string s = "plain ascii text";
        Assert.Same(s, Lathe.Tokenizers.Unicode.Nfc.Normalize(s));
    }
}

public class NfcQuickCheckTests
{
    [Fact]
    public void QuickCheckNeverPassesTextThatNormalizationChanges()
    {
        // Every BMP char alone and after "e" (a base many marks compose with): if the quick check says
        // "already NFC", the full algorithm must agree.
        for (int cp = 0; cp < 65536; cp++)
        {
            if (char.IsSurrogate((char)cp)) continue;
            foreach (var s in new[] { ((char)cp).ToString(), "e" + (char)cp, (char)cp + "e" })
                if (Lathe.Tokenizers.Unicode.Nfc.IsQuickNormalized(s)) Assert.Equal(s, Lathe.Tokenizers.Unicode.Nfc.Normalize(s));
        }
        Assert.True(Lathe.Tokenizers.Unicode.Nfc.IsQuickNormalized("em dash \u2014 and quotes \u201C\u201D"));
        Assert.False(Lathe.Tokenizers.Unicode.Nfc.IsQuickNormalized("e\u0301"));
    }
}

public class SignatureGuardTests
{
    [Fact]
    public void DashLineInABookIsNotASignature()
    {
        var options = new CleaningOptions { QualityFilter = false };
        string book = "Chapter one.\n--\n" + string.Join('\n', Enumerable.Range(0, 40).Select(i => $"Line {i} of the story."));
        var stats = new CleaningStats();
        Assert.Equal(book, new TextCleaner(options).Clean(book, stats));
        Assert.Equal(0, stats.SignatureLinesRemoved);
        string mail = "Reply text.\n-----Original Message-----\n" + string.Join('\n', Enumerable.Range(0, 40).Select(i => $"old {i}"));
        Assert.Equal("Reply text.", new TextCleaner(options).Clean(mail, new CleaningStats()));
    }
}
