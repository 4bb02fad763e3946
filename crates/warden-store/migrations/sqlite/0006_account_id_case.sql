-- Account ids are unique whatever their ASCII case (issue 9): `Acme` beside `acme` would let
-- resources, tokens and notices reach the wrong tenant by a typo. The application refuses the
-- second id with a conflict naming the first; this index holds under concurrent creates too.
-- A database that already holds two such ids fails here: rename one, then migrate.
CREATE UNIQUE INDEX accounts_id_lower ON accounts (lower(id));
