from tests.stateful import test_versioned_bucket as m

def test_mutant(server):
    def write(self, key, version):
        self.history(key).insert(0, version)  # forgets that a null write replaces the null version
    m.Model.write = write
    m.test_versioned_bucket_matches_the_model(server)
