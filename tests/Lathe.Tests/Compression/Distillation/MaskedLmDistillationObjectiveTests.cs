using Lathe.Compression.Distillation;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Training;
using Lathe.Training.Objectives;

namespace Lathe.Tests.Compression.Distillation;

/// <summary>BERT students: both models see the batch masked once (a teacher equal to the student gives KL 0 and the
/// hard terms are MaskedLmObjective's own), α = 0 is MaskedLmObjective bit for bit, and a smaller student trains
/// against a different teacher through the trainer.</summary>
public class MaskedLmDistillationObjectiveTests
{
    static ModelConfig Teacher => new()
    {
        ModelType = "bert", VocabSize = 68, MaxPositions = 32, Embd = 32, Layers = 2, Heads = 4, KvHeads = 4, Intermediate = 64, NormEps = 1e-12f,
    };
    static ModelConfig Student => Teacher with { Embd = 16, Layers = 1, Heads = 2, KvHeads = 2, Intermediate = 32 };

    static int[] Corpus(int n, ulong seed)
    {
        var rng = new Philox(seed);
        var t = new int[n];
        for (int i = 0; i < n; i++) t[i] = (i * 7 + rng.NextInt(3)) % 64;   // ids 0..63; 64..67 are the specials
        return t;
    }

    static float LossOf(ITrainingObjective objective, LanguageModel model, int[] corpus, ulong seed)
    {
        using var tape = new Tape();
        using (tape.Activate())
            return objective.Loss(model, new TrainingBatch(corpus.AsSpan(0, 4 * 24), corpus.AsSpan(1, 4 * 24), 4, 24, seed)).Item();
    }

    [Fact]
    public void A_teacher_equal_to_the_student_gives_KL_zero_and_the_masked_LM_hard_terms()
    {
        using var student = (BertModel)LanguageModel.Create(Student, 3);
        using var twin = (BertModel)LanguageModel.Create(Student, 3);   // the same weights
        var corpus = Corpus(200, 1);
        using var objective = new MaskedLmDistillationObjective(Student, twin, 0.6f, 2f);
        float loss = LossOf(objective, student, corpus, 42);
        var metrics = objective.TakeStepMetrics()!.ToDictionary(m => m.Key, m => m.Value);
        Assert.True(Math.Abs(metrics["distill/kl"]) < 1e-6, $"KL {metrics["distill/kl"]}");
        // The hard parts are exactly what MaskedLmObjective scores on the batch masked with the same seed.
        float plain = LossOf(new MaskedLmObjective(Student), student, corpus, 42);
        Assert.Equal(plain, (float)(metrics["distill/ce"] + metrics["distill/nsp"]), 5);
        Assert.Equal((float)((1 - 0.6) * metrics["distill/ce"] + metrics["distill/nsp"]), loss, 5);
        // Another seed masks other positions: the hard loss moves.
        Assert.NotEqual(plain, LossOf(new MaskedLmObjective(Student), student, corpus, 43));
    }

    [Fact]
    public void Alpha_zero_is_the_masked_LM_objective_bit_for_bit_and_bad_pairs_are_refused()
    {
        using var student = (BertModel)LanguageModel.Create(Student, 3);
        using var teacher = (BertModel)LanguageModel.Create(Teacher, 4);
        var corpus = Corpus(200, 2);
        using var objective = new MaskedLmDistillationObjective(Student, teacher, 0f, 2f);
        Assert.Equal(LossOf(new MaskedLmObjective(Student), student, corpus, 7), LossOf(objective, student, corpus, 7));
        using var other = (BertModel)LanguageModel.Create(Teacher with { VocabSize = 70 }, 4);
        Assert.Contains("vocabulary", Assert.Throws<InvalidDataException>(() => new MaskedLmDistillationObjective(Student, other, 0.5f, 2f)).Message);
        Assert.Contains("--alpha", Assert.Throws<ArgumentException>(() => new MaskedLmDistillationObjective(Student, teacher, 1.5f, 2f)).Message);
    }

    [Fact]
    public void A_smaller_student_trains_against_a_frozen_teacher()
    {
        using var teacher = (BertModel)LanguageModel.Create(Teacher, 4);
        using var student = (BertModel)LanguageModel.Create(Student, 3);
        var teacherWeights = teacher.Parameters.Select(p => p.Value.ToArray()).ToArray();
        using var objective = new MaskedLmDistillationObjective(Student, teacher, 0.9f, 2f);
        var options = new TrainingOptions { Steps = 20, BatchSize = 4, BlockSize = 24, GradAccum = 1, LearningRate = 3e-3f, WarmupSteps = 2, EvalEvery = 0, CheckpointEvery = 0, Seed = 5 };
        using var trainer = new Trainer(student, options, new TokenStreamSource(Corpus(4000, 3), 24), null, null, null, objective);
        var kl = new List<double>();
        for (int i = 0; i < 20; i++)
        {
            trainer.TrainStep();
            kl.Add(trainer.LastStepMetrics!.Single(m => m.Key == "distill/kl").Value);
        }
        Assert.All(kl, v => Assert.True(v > 0 && double.IsFinite(v)));
        Assert.True(kl.Skip(15).Average() < kl.Take(5).Average(), $"KL did not fall: {string.Join(", ", kl)}");
        Assert.Equal(teacherWeights, teacher.Parameters.Select(p => p.Value.ToArray()).ToArray());   // the teacher stays frozen
    }
}
