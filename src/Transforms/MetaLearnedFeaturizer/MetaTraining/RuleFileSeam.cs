namespace Components.Transforms.MetaLearnedFeaturizer.MetaTraining;

/// <summary>Where the meta-trainer hands its rule to the rule file format (one place to switch formats).</summary>
internal static class RuleFileSeam
{
    /// <summary>Saves <paramref name="rule"/> as a rule file at <paramref name="path"/>.</summary>
    public static void Save(LocalUpdateRule rule, string path) => rule.save(path);
}
