using Lathe.Knowledge;
using Xunit;

namespace Lathe.Tests.Knowledge;

/// <summary>The words every part of grounding shares: a fact's sentence, an object's text, the prompt format.</summary>
public class FactTextTests
{
    private static InMemoryGraph Graph() => new InMemoryGraph()
        .AddEntity("country/FRA", "France", "country")
        .AddEntity("city/paris-fra", "Paris", "city")
        .AddEntity("country/USA", "United States", "country")
        .AddEntity("city/washington-usa", "Washington, D.C.", "city")
        .AddRelation(new KgRelation("capital", "capital", TermKind.Entity, true, "The capital of {s} is {o}.", ["What is the capital of {s}?"]))
        .AddRelation(new KgRelation("area_km2", "area", TermKind.Number, true, "{s} has an area of {o} square kilometres.", ["How large is {s}?"]));

    [Fact]
    public void Statements_fill_names_and_numbers_as_people_write_them()
    {
        var g = Graph();
        Assert.Equal("The capital of France is Paris.", FactText.Statement(g, new Triple("country/FRA", "capital", Term.Entity("city/paris-fra"), "t")));
        Assert.Equal("France has an area of 551695 square kilometres.", FactText.Statement(g, new Triple("country/FRA", "area_km2", Term.Number(551695), "t")));
        Assert.Equal("2.5", FactText.ObjectText(g, Term.Number(2.5)));
        Assert.Equal("0.3333", FactText.ObjectText(g, Term.Number(1.0 / 3)));
    }

    [Fact]
    public void A_name_ending_in_a_full_stop_takes_no_second_one()
    {
        var g = Graph();
        Assert.Equal("The capital of United States is Washington, D.C.",
            FactText.Statement(g, new Triple("country/USA", "capital", Term.Entity("city/washington-usa"), "t")));
    }

    [Fact]
    public void An_unknown_relation_is_named()
    {
        var error = Assert.Throws<ArgumentException>(() => FactText.Statement(Graph(), new Triple("country/FRA", "mayor", Term.Text("x"), "t")));
        Assert.Contains("'mayor'", error.Message);
    }

    [Fact]
    public void The_prompt_has_facts_only_when_there_are_some_and_abstention_is_recognised_loosely()
    {
        Assert.Equal("Question: What is the capital of France?\nAnswer:", GroundedPrompt.Format("What is the capital of France?"));
        Assert.Equal("Facts:\n- The capital of France is Paris.\nQuestion: Q?\nAnswer:",
            GroundedPrompt.Format("Q?", ["The capital of France is Paris."]));
        Assert.True(GroundedPrompt.IsAbstention(" i don't know"));
        Assert.False(GroundedPrompt.IsAbstention("Paris"));
    }
}
