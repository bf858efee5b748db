using Lathe.Knowledge;
using Lathe.Knowledge.Claims;
using Lathe.Knowledge.Grounding;
using Lathe.Tests.Knowledge.Grounding;

namespace Lathe.Tests.Knowledge.Claims;

/// <summary>Claim checking on a hand-written graph: statements read back through their templates and judged
/// supported, contradicted (with the graph's values) or unknown — entities by name or alias, numbers with separators
/// and units within 0.5 %, lists one claim per item, dates and strings by key; short answers to questions likewise.</summary>
public class ClaimCheckerTests
{
    static readonly InMemoryGraph Graph = GroundingFixtures.Graph();
    static readonly ClaimChecker Checker = new(Graph, new EntityLinker(Graph));

    static ClaimVerdict One(string text) => Assert.Single(Checker.Check(text));

    [Fact]
    public void A_true_statement_is_supported()
    {
        var v = One("The capital of France is Paris.");
        Assert.Equal((ClaimStatus.Supported, "country/FRA", "capital", "Paris", Term.Entity("city/paris-fra")),
            (v.Status, v.Claim.SubjectId, v.Claim.Relation, v.Claim.ObjectText, v.Claim.Object));
        Assert.Equal(["Paris"], v.GraphValues);
    }

    [Fact]
    public void A_false_statement_is_contradicted_with_the_graphs_value()
    {
        var v = One("the capital of france is Madrid");
        Assert.Equal((ClaimStatus.Contradicted, "Madrid", Term.Entity("city/madrid")), (v.Status, v.Claim.ObjectText, v.Claim.Object));
        Assert.Equal(["Paris"], v.GraphValues);
    }

    [Fact]
    public void A_statement_the_graph_has_nothing_on_is_unknown()
    {
        var v = One("The capital of Belgium is Brussels.");
        Assert.Equal((ClaimStatus.Unknown, "country/BEL", (Term?)null), (v.Status, v.Claim.SubjectId, v.Claim.Object));
        Assert.Empty(v.GraphValues);
    }

    [Fact]
    public void Aliases_name_subjects_and_objects()
    {
        Assert.Equal(ClaimStatus.Supported, One("The capital of the French Republic is Paris.").Status);
        var v = One("Spain borders French Republic.");
        Assert.Equal((ClaimStatus.Supported, Term.Entity("country/FRA")), (v.Status, v.Claim.Object));
    }

    [Theory]
    [InlineData("The area of France is 551,695 square kilometres.", ClaimStatus.Supported)]
    [InlineData("The area of France is 551695 square kilometres.", ClaimStatus.Supported)]
    [InlineData("The area of France is 554,400 square kilometres.", ClaimStatus.Supported)]      // +0.49 %
    [InlineData("The area of France is 554,500 square kilometres.", ClaimStatus.Contradicted)]   // +0.51 %
    [InlineData("The area of France is 549,000 square kilometres.", ClaimStatus.Supported)]      // −0.49 %
    [InlineData("The area of France is 600,000 square kilometres.", ClaimStatus.Contradicted)]
    [InlineData("The area of France is large square kilometres.", ClaimStatus.Contradicted)]     // no number at all
    [InlineData("The atomic number of Iron is 26.", ClaimStatus.Supported)]
    [InlineData("The atomic number of iron is 27.", ClaimStatus.Contradicted)]
    public void Numbers_compare_numerically(string text, ClaimStatus status) => Assert.Equal(status, One(text).Status);

    [Fact]
    public void A_list_is_one_claim_per_item()
    {
        var vs = Checker.Check("France borders Spain, Italy and Portugal.");
        Assert.Equal(["Spain", "Italy", "Portugal"], vs.Select(v => v.Claim.ObjectText));
        Assert.Equal([ClaimStatus.Supported, ClaimStatus.Supported, ClaimStatus.Contradicted], vs.Select(v => v.Status));
        Assert.Equal(["Belgium", "Germany", "Spain", "Italy"], vs[2].GraphValues);
    }

    [Fact]
    public void Strings_and_dates_compare_by_key()
    {
        Assert.Equal(ClaimStatus.Supported, One("The chemical symbol of iron is Fe.").Status);
        Assert.Equal(ClaimStatus.Contradicted, One("The chemical symbol of iron is Ir.").Status);
        Assert.Equal(ClaimStatus.Supported, One("Belgium became independent in 1830.").Status);
        Assert.Equal(ClaimStatus.Contradicted, One("Belgium became independent in 1831.").Status);
        Assert.Equal(ClaimStatus.Supported, One("Dog means a member of the genus Canis.").Status);
        // A template of two sentences is read across them, and its claim spans both.
        var landlocked = Checker.Check("Is Germany landlocked? Yes. The capital of Italy is Rome.");
        Assert.Equal([("landlocked", ClaimStatus.Contradicted, 0, 27), ("capital", ClaimStatus.Supported, 28, 29)],
            landlocked.Select(v => (v.Claim.Relation, v.Status, v.Claim.Start, v.Claim.Length)));
    }

    [Fact]
    public void Claims_are_located_sentence_by_sentence_and_other_text_is_not_a_claim()
    {
        const string text = "I like France. The capital of Italy is Rome! The capital of Spain is Barcelona.\nThe area of Georgia is 69,700 square kilometres.";
        var vs = Checker.Check(text);
        Assert.Equal([ClaimStatus.Supported, ClaimStatus.Contradicted, ClaimStatus.Supported], vs.Select(v => v.Status));
        Assert.Equal("The capital of Italy is Rome!", text.Substring(vs[0].Claim.Start, vs[0].Claim.Length));
        Assert.Equal("The capital of Spain is Barcelona.", text.Substring(vs[1].Claim.Start, vs[1].Claim.Length));
        // Georgia is ambiguous, but only the country has an area: the claim is about it.
        Assert.Equal("country/GEO", vs[2].Claim.SubjectId);
        Assert.Empty(Checker.Check("The capital of Atlantis is Poseidonia. It is in a box."));
        // Both Georgias have a capital and neither is Paris: not checkable, so no claim.
        Assert.Empty(Checker.Check("The capital of Georgia is Paris."));
        // Both Georgias have an independence date: the claim is about the one it matches, and unchecked when none.
        Assert.Equal(("subdivision/US-GA", ClaimStatus.Supported), (One("Georgia became independent in 1776.").Claim.SubjectId, One("Georgia became independent in 1776.").Status));
        Assert.Equal(("country/GEO", ClaimStatus.Supported), (One("Georgia became independent in 1991.").Claim.SubjectId, One("Georgia became independent in 1991.").Status));
        Assert.Empty(Checker.Check("Georgia became independent in 1800."));
        Assert.Equal(ClaimStatus.Supported, One("Paris is the capital of France.").Status);
        Assert.Empty(Checker.Check("It is the capital of France."));   // "it" is a lemma, but a pronoun here
        Assert.Equal(("subdivision/US-GA", ClaimStatus.Supported), (One("The capital of Georgia is Atlanta.").Claim.SubjectId, One("The capital of Georgia is Atlanta.").Status));
    }

    [Fact]
    public void A_run_on_text_is_skipped_quickly_and_the_sentences_around_it_still_read()
    {
        string runOn = string.Concat(Enumerable.Repeat("the capital of France is ", 2000));   // 50,000 characters, no full stop
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var vs = Checker.Check("The capital of Italy is Rome.\n" + runOn + "\nThe capital of Spain is Madrid.");
        Assert.True(watch.ElapsedMilliseconds < 5000, $"{watch.ElapsedMilliseconds} ms");
        Assert.Equal(["country/ITA", "country/ESP"], vs.Select(v => v.Claim.SubjectId));
    }

    [Fact]
    public void Short_answers_are_checked_against_the_question()
    {
        Assert.Equal(ClaimStatus.Supported, Checker.CheckAnswer("What is the capital of France?", "Paris")!.Status);
        Assert.Equal(ClaimStatus.Supported, Checker.CheckAnswer("France's capital is which city?", " paris.\n")!.Status);
        var wrong = Checker.CheckAnswer("What is the capital of France?", "Madrid")!;
        Assert.Equal((ClaimStatus.Contradicted, "Madrid", "country/FRA"), (wrong.Status, wrong.Claim.ObjectText, wrong.Claim.SubjectId));
        Assert.Equal(["Paris"], wrong.GraphValues);
        Assert.Equal(ClaimStatus.Supported, Checker.CheckAnswer("What is the area of Spain?", "505,990 km²")!.Status);
        Assert.Equal(ClaimStatus.Contradicted, Checker.CheckAnswer("What is the area of Spain?", "about 600,000")!.Status);
        Assert.Equal(ClaimStatus.Unknown, Checker.CheckAnswer("What is the capital of Ukraine?", "Kyiv")!.Status);
        Assert.Equal(ClaimStatus.Supported, Checker.CheckAnswer("What is the capital of France?", "The capital of France is Paris.")!.Status);
        Assert.Equal(ClaimStatus.Supported, Checker.CheckAnswer("Which countries border France?", "Italy")!.Status);
        Assert.Null(Checker.CheckAnswer("What is the capital of France?", "I don't know."));
        Assert.Null(Checker.CheckAnswer("What is the capital of France?", "  "));
        Assert.Null(Checker.CheckAnswer("What is the capital of Georgia?", "Tbilisi"));     // ambiguous question
        Assert.Null(Checker.CheckAnswer("What is the capital of Atlantis?", "Poseidonia"));
    }
}
